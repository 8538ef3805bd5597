"""VAE family: ELBO terms, NaN input, seeds, deepcopy/.to(), the residual decoder.

Checkpoints: tests/models/test_checkpoint.py; the geometry-aware VAE: tests/models/test_geometric_vae.py.
"""

import copy

import pytest
import torch

from medaug.models.checkpoint import load_model, save_model
from medaug.models.geometric_vae import GeometricVAE, GeometricVAEConfig
from medaug.models.networks import NetworkConfig
from medaug.models.rhvae import RHVAE, RHVAEConfig
from medaug.models.vae import VAE, VAEConfig, gaussian_log_likelihood

NET_2D = NetworkConfig(spatial_dims=2, spatial_shape=(16, 16), channels=(4, 8), strides=(2, 2), latent_size=3, metric_hidden_size=8)
NET_3D = NetworkConfig(spatial_dims=3, spatial_shape=(12, 14, 12), channels=(4, 8), strides=(2, 2), latent_size=4, metric_hidden_size=8)


def _model(kind, network=NET_2D, **kwargs):
    torch.manual_seed(0)
    if kind == "vae":
        return VAE(VAEConfig(network=network, **kwargs))
    if kind == "rhvae":
        return RHVAE(RHVAEConfig(network=network, **kwargs))
    return GeometricVAE(GeometricVAEConfig(network=network, **kwargs))


@pytest.mark.parametrize("network", [NET_2D, NET_3D], ids=["2d", "3d"])
def test_vae_forward_shapes_and_elbo(network):
    model = _model("vae", network)
    x = torch.rand(3, *network.in_shape)
    out = model(x)
    assert out.reconstruction.shape == x.shape and out.z.shape == (3, network.latent_size)
    assert torch.allclose(out.elbo, out.terms["reconstruction"] - out.terms["kl"])
    assert out.loss.shape == () and torch.isfinite(out.loss)


def test_gaussian_log_likelihood_matches_torch_distributions():
    x, mean = torch.rand(2, 1, 3, 3, dtype=torch.float64), torch.rand(2, 1, 3, 3, dtype=torch.float64)
    expected = torch.distributions.Normal(mean, 0.3).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(gaussian_log_likelihood(x, mean, 0.3), expected)


def test_vae_kl_term_is_the_analytic_kl():
    model = _model("vae").double()
    x = torch.rand(2, *NET_2D.in_shape, dtype=torch.float64)
    out = model(x)
    mean, log_var = model.encode(x)
    q = torch.distributions.Normal(mean, torch.exp(0.5 * log_var))
    p = torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(mean))
    assert torch.allclose(out.terms["kl"], torch.distributions.kl_divergence(q, p).sum(-1))


@pytest.mark.parametrize("kind", ["vae", "rhvae", "geometric_vae"])
def test_nan_input_gives_a_clear_error(kind):
    model = _model(kind)
    x = torch.rand(2, *NET_2D.in_shape)
    x[0, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN or Inf"):
        model(x)
    with pytest.raises(ValueError, match="expected input of shape"):
        model(torch.rand(2, 16, 16))


@pytest.mark.parametrize("kind", ["vae", "rhvae", "geometric_vae"])
def test_same_seed_same_weights(kind):
    first, second = _model(kind), _model(kind)
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), name


def _fitted(kind):
    model = _model(kind)
    model.fit_metric(torch.rand(6, *NET_2D.in_shape), batch_size=4)
    return model.eval()


@pytest.mark.parametrize("kind", ["rhvae", "geometric_vae"])
def test_deepcopy_and_to_keep_the_metric_consistent(kind):
    model = _fitted(kind)
    z = torch.randn(5, NET_2D.latent_size, dtype=torch.float64)
    expected = model.metric.metric(z.float()).double()
    clone = copy.deepcopy(model)
    assert torch.equal(clone.metric.metric(z.float()), model.metric.metric(z.float()))
    # the copy owns its buffers: changing it leaves the original alone
    for buffer in clone.metric.buffers():
        buffer.mul_(2.0)
    assert torch.equal(model.metric.metric(z.float()).double(), expected)
    converted = copy.deepcopy(model).to(torch.float64)
    assert all(b.dtype == torch.float64 for b in converted.metric.buffers())
    assert torch.allclose(converted.metric.metric(z), expected, rtol=1e-4, atol=1e-6)
    if kind == "geometric_vae":
        assert converted.metric.rho == model.metric.rho


NET_2D_IDENTITY = NetworkConfig(spatial_dims=2, spatial_shape=(16, 16), channels=(4, 8), strides=(2, 2), latent_size=3,
                                metric_hidden_size=8, output_activation="identity")


@pytest.mark.parametrize("kind", ["vae", "rhvae", "geometric_vae"])
def test_residual_from_mean_decodes_mean_plus_residual(kind):
    model = _model(kind, NET_2D_IDENTITY, residual_from_mean=True)
    data = torch.rand(6, *NET_2D_IDENTITY.in_shape)
    model.prepare_for_training(data)
    assert torch.allclose(model.data_mean, data.mean(0), atol=1e-6)
    z = torch.randn(2, NET_2D_IDENTITY.latent_size)
    assert torch.allclose(model.decode(z), model.decoder(z) + data.mean(0), atol=1e-6)
    # the encoder reads x - mean: shifting the mean and the input together changes nothing
    shift = 0.3
    before = model.encode(data)[0]
    model.data_mean.add_(shift)
    assert torch.allclose(model.encode(data + shift)[0], before, atol=1e-6)


def test_residual_from_mean_is_saved_with_the_model(tmp_path):
    model = _model("vae", NET_2D_IDENTITY, residual_from_mean=True)
    model.prepare_for_training(torch.rand(5, *NET_2D_IDENTITY.in_shape))
    save_model(model, tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    assert loaded.config.residual_from_mean and torch.equal(loaded.data_mean, model.data_mean)
    z = torch.randn(3, NET_2D_IDENTITY.latent_size)
    assert torch.allclose(loaded.decode(z), model.decode(z), atol=1e-6)


def test_residual_from_mean_needs_identity_output_and_data():
    with pytest.raises(ValueError, match="identity"):
        VAEConfig(network=NET_2D, residual_from_mean=True)
    model = _model("vae", NET_2D_IDENTITY, residual_from_mean=True)
    with pytest.raises(ValueError, match="empty"):
        model.prepare_for_training(torch.rand(0, *NET_2D_IDENTITY.in_shape))


def test_without_residual_prepare_leaves_the_model_unchanged():
    model = _model("vae", NET_2D)
    model.prepare_for_training(torch.rand(4, *NET_2D.in_shape))
    assert torch.count_nonzero(model.data_mean) == 0


@pytest.mark.parametrize("kind", ["vae", "rhvae"])
def test_vae_elbo_is_the_plain_bound_whatever_the_model(kind):
    model = _model(kind, NET_2D_IDENTITY).eval()
    x = torch.rand(4, *NET_2D_IDENTITY.in_shape)
    torch.manual_seed(3)
    out = model.vae_elbo(x)
    mean, log_var = model.encode(x)
    assert out.elbo.shape == (4,)
    prior = torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(mean))
    posterior = torch.distributions.Normal(mean, torch.exp(0.5 * log_var))
    kl = torch.distributions.kl_divergence(posterior, prior).sum(-1)
    assert torch.allclose(out.terms["kl"], kl, atol=1e-5)
    expected = gaussian_log_likelihood(x, model.decode(out.z), model.config.observation_std) - kl
    assert torch.allclose(out.elbo, expected, atol=1e-4)


NET_2D_SMALL = NetworkConfig(spatial_dims=2, spatial_shape=(6, 6), channels=(4,), strides=(2,), latent_size=3,
                             metric_hidden_size=8, output_activation="identity")


def _linear_path_model(kind, data, noise_std=0.2):
    model = _model(kind, NET_2D_SMALL, residual_from_mean=True, linear_path=True, observation_std=noise_std).double()
    model.prepare_for_training(data)
    return model


def _structured_data(n=30, seed=0):
    generator = torch.Generator().manual_seed(seed)
    basis = torch.randn(3, 36, generator=generator, dtype=torch.float64) * torch.tensor([[2.0], [1.0], [0.5]], dtype=torch.float64)
    codes = torch.randn(n, 3, generator=generator, dtype=torch.float64)
    noise = 0.1 * torch.randn(n, 36, generator=generator, dtype=torch.float64)
    return (0.5 + codes @ basis + noise).reshape(n, 1, 6, 6)


@pytest.mark.parametrize("kind", ["vae", "rhvae", "geometric_vae"])
def test_linear_path_starts_from_the_ppca_solution(kind):
    data = _structured_data()
    noise = 0.2
    model = _linear_path_model(kind, data, noise)
    flat = data.flatten(1)
    centred = flat - flat.mean(0)
    values, vectors = torch.linalg.eigh(centred.T @ centred / len(flat))
    values, vectors = values.flip(0)[:3], vectors.flip(1)[:, :3]
    weight = vectors * (values - noise**2).sqrt()  # W = U (Lambda - s^2)^1/2, (D, d)
    # decoder: m + W z (up to the sign of each column); the networks start at zero
    z = torch.randn(4, 3, dtype=torch.float64)
    decoded = model.decode(z).flatten(1) - flat.mean(0)
    assert torch.allclose(decoded.abs().sum(), (z @ model.linear_decoder_weight).abs().sum())
    assert torch.allclose((model.linear_decoder_weight @ weight).abs(), torch.diag(values - noise**2), atol=1e-8)
    # encoder: the exact PPCA posterior N(M^-1 W^T (x - m), s^2 M^-1), M = diag(lambda)
    mean, log_var = model.encode(data[:5])
    expected = (centred[:5] @ vectors) * (values - noise**2).sqrt() / values
    assert torch.allclose(mean.abs(), expected.abs(), atol=1e-8)
    assert torch.allclose(log_var, (noise**2 / values).log().expand(5, 3), atol=1e-10)


def test_linear_path_bound_equals_the_ppca_likelihood_at_start():
    """With the exact posterior, E_q[log p(x|z)] - KL = log p(x) (Tipping and Bishop 1999, sec. 3.2)."""
    data = _structured_data()
    noise = 0.2
    model = _linear_path_model("vae", data, noise).eval()
    weight = model.linear_decoder_weight.detach().T  # (D, d)
    covariance = weight @ weight.T + noise**2 * torch.eye(36, dtype=torch.float64)
    exact = torch.distributions.MultivariateNormal(data.flatten(1).mean(0), covariance).log_prob(data[:2].flatten(1))
    torch.manual_seed(0)
    with torch.no_grad():
        draws = model.vae_elbo(data[:2].repeat(4000, 1, 1, 1)).elbo.reshape(4000, 2)
    estimate, error = draws.mean(0), draws.std(0) / 4000**0.5
    assert torch.all((estimate - exact).abs() < 5 * error + 1e-6), (estimate, exact, error)


def test_linear_path_trains_and_is_saved_with_the_model(tmp_path):
    data = _structured_data()
    model = _linear_path_model("rhvae", data)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    for _ in range(3):
        optimizer.zero_grad()
        model(data[:8]).loss.backward()
        optimizer.step()
    changed = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert {"linear_decoder_weight", "linear_encoder_weight", "linear_log_var_bias"} <= changed
    assert any(name.startswith("decoder.") for name in changed)  # zero output layers still learn
    save_model(model.float(), tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    assert loaded.config.linear_path
    z = torch.randn(3, 3)
    assert torch.allclose(loaded.decode(z), model.decode(z), atol=1e-6)


def test_linear_path_needs_the_residual_parametrisation():
    with pytest.raises(ValueError, match="residual_from_mean"):
        VAEConfig(network=NET_2D_SMALL, linear_path=True)


def test_a_given_linear_start_is_the_models_start_and_must_match_its_shape():
    from medaug.models.ppca import fit_shared_ppca

    config = VAEConfig(network=NET_2D_IDENTITY, observation_std=0.2, residual_from_mean=True, linear_path=True)
    own = torch.rand(6, *NET_2D_IDENTITY.in_shape)
    other = torch.rand(7, *NET_2D_IDENTITY.in_shape) + 0.5
    start = fit_shared_ppca(own, [other], NET_2D_IDENTITY.latent_size, 0.2)
    model = VAE(config)
    model.prepare_for_training(own, start)
    assert torch.allclose(model.linear_decoder_weight, start.decoder_weight)
    assert torch.allclose(model.data_mean.flatten(), own.flatten(1).mean(0), atol=1e-6)
    with pytest.raises(ValueError, match="at s = 0.1"):
        VAE(config).prepare_for_training(own, fit_shared_ppca(own, [other], NET_2D_IDENTITY.latent_size, 0.1))
