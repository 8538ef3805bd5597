"""Probabilistic PCA at a fixed noise level: eigen-decomposition, maximum likelihood, posterior."""

import math

import pytest
import torch

from medaug.models.ppca import fit_ppca


def _low_rank_data(n=40, shape=(5, 6), rank=3, noise=0.05, seed=0):
    generator = torch.Generator().manual_seed(seed)
    features = math.prod(shape)
    basis = torch.randn(rank, features, generator=generator, dtype=torch.float64) * torch.tensor([3.0, 2.0, 1.0])[:rank, None]
    codes = torch.randn(n, rank, generator=generator, dtype=torch.float64)
    data = 0.5 + codes @ basis + noise * torch.randn(n, features, generator=generator, dtype=torch.float64)
    return data.reshape(n, *shape)


def _ppca_log_likelihood(data, mean, weight_t, noise_std):
    """Closed form: x ~ N(m, W W^T + s^2 I), summed over the data set."""
    flat = data.reshape(len(data), -1)
    covariance = weight_t.T @ weight_t + noise_std**2 * torch.eye(flat.shape[1], dtype=flat.dtype)
    return torch.distributions.MultivariateNormal(mean, covariance).log_prob(flat).sum()


def test_eigenvalues_and_components_match_the_sample_covariance():
    data = _low_rank_data()
    fit = fit_ppca(data, latent_size=4, noise_std=0.1)
    flat = data.reshape(len(data), -1)
    centred = flat - flat.mean(0)
    covariance = centred.T @ centred / len(flat)
    expected_values, expected_vectors = torch.linalg.eigh(covariance)
    assert torch.allclose(fit.mean, flat.mean(0))
    assert torch.allclose(fit.eigenvalues, expected_values.flip(0)[:4], rtol=1e-9)
    assert torch.allclose(fit.components @ fit.components.T, torch.eye(4, dtype=torch.float64), atol=1e-9)
    for i in range(4):  # same direction up to sign
        assert abs(float(fit.components[i] @ expected_vectors[:, -1 - i])) == pytest.approx(1.0, abs=1e-8)


def test_weights_maximise_the_likelihood_at_the_given_noise():
    data = _low_rank_data()
    noise = 0.2
    fit = fit_ppca(data, latent_size=3, noise_std=noise)
    best = _ppca_log_likelihood(data, fit.mean, fit.decoder_weight, noise)
    generator = torch.Generator().manual_seed(1)
    for _ in range(5):
        perturbed = fit.decoder_weight + 0.05 * torch.randn(fit.decoder_weight.shape, generator=generator, dtype=torch.float64)
        assert _ppca_log_likelihood(data, fit.mean, perturbed, noise) < best
    scaled = fit.decoder_weight * 1.05
    assert _ppca_log_likelihood(data, fit.mean, scaled, noise) < best


def test_posterior_is_the_exact_gaussian_posterior():
    data = _low_rank_data()
    noise = 0.3
    fit = fit_ppca(data, latent_size=3, noise_std=noise)
    w = fit.decoder_weight.T  # (D, d)
    m_matrix = w.T @ w + noise**2 * torch.eye(3, dtype=torch.float64)
    x = data.reshape(len(data), -1)[:4] - fit.mean
    expected_mean = torch.linalg.solve(m_matrix, w.T @ x.T).T
    assert torch.allclose(x @ fit.encoder_weight.T, expected_mean, atol=1e-10)
    assert torch.allclose(torch.diag(noise**2 * torch.linalg.inv(m_matrix)), fit.posterior_variance, atol=1e-12)


def test_components_past_the_rank_and_below_the_noise_are_zero():
    data = _low_rank_data(n=3)  # a centred 3-row matrix has rank <= 2
    fit = fit_ppca(data, latent_size=5, noise_std=0.01)
    assert torch.count_nonzero(fit.components[2:]) == 0 and torch.count_nonzero(fit.eigenvalues[2:]) == 0
    assert torch.allclose(fit.posterior_variance[2:], torch.ones(3, dtype=torch.float64))
    assert torch.count_nonzero(fit.decoder_weight[2:]) == 0
    loud = fit_ppca(_low_rank_data(), latent_size=3, noise_std=100.0)  # every eigenvalue below s^2
    assert torch.count_nonzero(loud.decoder_weight) == 0 and torch.allclose(loud.posterior_variance, torch.ones(3, dtype=torch.float64))


def test_chunked_gram_equals_one_block():
    data = _low_rank_data().float()
    whole, chunked = fit_ppca(data, 3, 0.1), fit_ppca(data, 3, 0.1, chunk_size=7)
    assert torch.allclose(whole.eigenvalues, chunked.eigenvalues)
    assert torch.allclose(whole.components.abs(), chunked.components.abs(), atol=1e-6)
    assert whole.components.dtype == torch.float32


@pytest.mark.parametrize(
    "data, kwargs, message",
    [
        (torch.zeros(0, 4), {}, "non-empty"),
        (torch.zeros(4), {}, "non-empty"),
        (torch.full((3, 4), float("nan")), {}, "NaN"),
        (torch.rand(3, 4), {"latent_size": 0}, "latent_size"),
        (torch.rand(3, 4), {"noise_std": 0.0}, "noise_std"),
    ],
)
def test_bad_input_is_refused(data, kwargs, message):
    arguments = {"latent_size": 2, "noise_std": 0.1, **kwargs}
    with pytest.raises(ValueError, match=message):
        fit_ppca(data, **arguments)


def test_ppca_log_likelihood_matches_the_full_gaussian_density():
    from medaug.models.ppca import ppca_log_likelihood

    generator = torch.Generator().manual_seed(4)
    loadings = torch.randn(10, 3, generator=generator, dtype=torch.float64)
    data = torch.randn(300, 3, generator=generator, dtype=torch.float64) @ loadings.T
    data = data + 0.3 * torch.randn(300, 10, generator=generator, dtype=torch.float64) + 2.0
    for d in (1, 3, 5):
        fit = fit_ppca(data[:200], d, 0.3)
        weight = fit.decoder_weight.T
        covariance = weight @ weight.T + 0.09 * torch.eye(10, dtype=torch.float64)
        expected = torch.distributions.MultivariateNormal(fit.mean, covariance).log_prob(data[200:])
        torch.testing.assert_close(ppca_log_likelihood(fit, data[200:]), expected, rtol=1e-9, atol=1e-8)


def test_held_out_likelihood_picks_the_true_rank():
    from medaug.models.ppca import held_out_latent_sizes

    generator = torch.Generator().manual_seed(5)
    loadings = 3.0 * torch.randn(40, 4, generator=generator, dtype=torch.float64)
    data = torch.randn(260, 4, generator=generator, dtype=torch.float64) @ loadings.T
    data = data + 0.5 * torch.randn(260, 40, generator=generator, dtype=torch.float64)
    scores = held_out_latent_sizes(data[:200], data[200:], [1, 2, 4, 8, 16], 0.5)
    assert max(scores, key=scores.get) == 4
    assert scores[1] < scores[2] < scores[4]


def test_shared_ppca_is_the_within_group_covariance_with_the_own_mean():
    from medaug.models.ppca import fit_shared_ppca

    own, other = _low_rank_data(n=30, seed=1), _low_rank_data(n=25, seed=2) + 20.0
    fit = fit_shared_ppca(own, [other], latent_size=4, noise_std=0.1)
    flat = [g.reshape(len(g), -1) for g in (own, other)]
    scatter = sum((g - g.mean(0)).T @ (g - g.mean(0)) for g in flat) / (len(own) + len(other))
    expected_values, expected_vectors = torch.linalg.eigh(scatter)
    assert torch.allclose(fit.mean, flat[0].mean(0))
    assert torch.allclose(fit.eigenvalues, expected_values.flip(0)[:4], rtol=1e-9)
    for i in range(4):
        assert abs(float(fit.components[i] @ expected_vectors[:, -1 - i])) == pytest.approx(1.0, abs=1e-8)
    # the other group's offset (+20 everywhere) is a mean, not a component
    alone = fit_ppca(torch.cat([own, other]), latent_size=1, noise_std=0.1)
    assert float(alone.eigenvalues[0]) > 2 * float(fit.eigenvalues[0])


def test_shared_ppca_without_other_groups_is_the_own_fit_and_rejects_other_shapes():
    from medaug.models.ppca import fit_shared_ppca

    own = _low_rank_data(n=20)
    shared, single = fit_shared_ppca(own, [], 3, 0.1), fit_ppca(own, 3, 0.1)
    assert torch.allclose(shared.eigenvalues, single.eigenvalues, rtol=1e-9)
    assert torch.allclose((shared.components @ single.components.T).abs(), torch.eye(3, dtype=torch.float64), atol=1e-8)
    with pytest.raises(ValueError, match="group 1 has shape"):
        fit_shared_ppca(own, [torch.zeros(4, 6, 5, dtype=torch.float64)], 3, 0.1)


def test_shared_components_generalise_better_when_the_groups_share_their_variation():
    """Two groups that differ only in their means: pooling doubles the volumes behind each component."""
    from medaug.models.ppca import fit_shared_ppca, ppca_log_likelihood

    data = _low_rank_data(n=80, rank=3, noise=0.3, seed=3)
    own, other, held_out = data[:10], data[10:70] + 1.0, data[70:]
    shared = ppca_log_likelihood(fit_shared_ppca(own, [other], 3, 0.3), held_out).mean()
    single = ppca_log_likelihood(fit_ppca(own, 3, 0.3), held_out).mean()
    assert float(shared) > float(single)
