"""Latent samplers: statistical correctness on 2D metrics with known densities, exp-map geometry, baselines.

Statistical tests compare the last states of many independent chains (independent samples) with the
target normalised on a fine grid inside the compact set. Seeds are fixed, so each test is
deterministic; the p-value threshold 1e-3 would reject a correct sampler once in a thousand seeds,
and every broken variant below gives p < 1e-10 at the same budget.

Note on "broken" HMC variants: HMC with a Metropolis step on the correct Hamiltonian stays exact for
ANY position-dependent force (leapfrog remains volume-preserving and reversible), so a wrong gradient
shows up as a chain that has not mixed within the budget, not as a biased limit. The budget below
(20 steps from the centroids) is enough for the exact gradient (acceptance ~0.95) and far too short
for a flipped one (acceptance ~0.2).
"""


import numpy as np
import pytest
import torch
from scipy import stats

from medaug.models.metric import GeometricMetric, RHVAEMetric
from medaug.sampling import (
    GaussianMixtureSampler,
    GeometricHMCSampler,
    PriorSampler,
    RiemannianHMCSampler,
    RiemannianRandomWalk,
    exponential_map,
    geodesic_hamiltonian,
    hmc_chains,
    leapfrog,
)
from medaug.sampling.random_walk import geodesic_vector_field

F64 = torch.float64
CENTROIDS = torch.tensor([[-1.0, 0.0], [1.0, 0.5], [0.2, -1.0]], dtype=F64)
N_BINS = 10
P_THRESHOLD = 1e-3


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _rhvae_metric(conformal: bool = False) -> RHVAEMetric:
    if conformal:  # M_i = a_i^2 I: G is a scalar times I
        cholesky = torch.stack([torch.eye(2, dtype=F64) * a for a in (1.0, 0.7, 1.3)])
    else:
        cholesky = torch.tensor([[[1.0, 0], [0.3, 0.6]], [[0.8, 0], [-0.4, 1.0]], [[1.2, 0], [0, 0.5]]], dtype=F64)
    return RHVAEMetric(CENTROIDS, cholesky, temperature=0.8, lam=1e-2)


def _geometric_metric() -> GeometricMetric:
    variances = torch.tensor([[0.1, 0.2], [0.3, 0.1], [0.15, 0.15]], dtype=F64)
    return GeometricMetric.from_posteriors(CENTROIDS, variances, lam=1e-2)


def _grid_bin_probabilities(log_density, radius: float, edges: np.ndarray, n_grid: int = 400) -> np.ndarray:
    """Target mass per 2D bin: the density on an n_grid^2 midpoint grid, restricted to |z| <= radius."""
    x = (torch.arange(n_grid, dtype=F64) + 0.5) / n_grid * 2 * radius - radius
    grid = torch.stack(torch.meshgrid(x, x, indexing="ij"), -1).reshape(-1, 2)
    log_p = log_density(grid)
    inside = grid.norm(dim=1) <= radius
    weight = torch.where(inside, torch.exp(log_p - log_p[inside].max()), torch.zeros_like(log_p))
    weight = (weight / weight.sum()).numpy()
    return np.histogram2d(grid[:, 0].numpy(), grid[:, 1].numpy(), bins=[edges, edges], weights=weight)[0]


def _chi_square_p_value(samples: torch.Tensor, probabilities: np.ndarray, edges: np.ndarray) -> float:
    """Binned chi-square test; bins expecting fewer than 5 samples are pooled into one."""
    counts = np.histogram2d(samples[:, 0].numpy(), samples[:, 1].numpy(), bins=[edges, edges])[0].ravel()
    expected = probabilities.ravel() * counts.sum()
    large = expected >= 5
    observed = np.append(counts[large], counts[~large].sum())
    expected = np.append(expected[large], expected[~large].sum())
    statistic = ((observed - expected) ** 2 / expected).sum()
    return float(stats.chi2.sf(statistic, len(expected) - 1))


def _total_variation(samples: torch.Tensor, probabilities: np.ndarray, edges: np.ndarray) -> float:
    counts = np.histogram2d(samples[:, 0].numpy(), samples[:, 1].numpy(), bins=[edges, edges])[0]
    return 0.5 * float(np.abs(counts / counts.sum() - probabilities).sum())


def _flipped_gradient(sampler_class):
    class Flipped(sampler_class):
        def log_prob_and_grad(self, z):
            log_p, grad = super().log_prob_and_grad(z)
            return log_p, -grad

    return Flipped


def _inverted_target(sampler_class):
    """The chapter-1 / chapter-3 sign convention confused: sqrt det G instead of sqrt det G^-1."""

    class Inverted(sampler_class):
        def log_prob_and_grad(self, z):
            log_p, grad = super().log_prob_and_grad(z)
            return -log_p, -grad

    return Inverted


# ----------------------------------------------------------------------------------- HMC core


def test_leapfrog_reversible_and_energy_conserving():
    def gaussian(z):
        return -0.5 * (z * z).sum(-1), -z

    gen = torch.Generator().manual_seed(0)
    z0, v0 = torch.randn(16, 3, generator=gen, dtype=F64), torch.randn(16, 3, generator=gen, dtype=F64)
    z1, v1, log_p1, grad1 = leapfrog(z0, v0, -z0, gaussian, 0.01, 50)
    z2, v2, _, _ = leapfrog(z1, -v1, grad1, gaussian, 0.01, 50)
    torch.testing.assert_close(z2, z0, rtol=0, atol=1e-12)
    torch.testing.assert_close(-v2, v0, rtol=0, atol=1e-12)
    energy0 = 0.5 * (z0 * z0).sum(-1) + 0.5 * (v0 * v0).sum(-1)
    energy1 = -log_p1 + 0.5 * (v1 * v1).sum(-1)
    assert (energy1 - energy0).abs().max() < 1e-4  # O(eps^2) energy error


def test_hmc_chains_on_gaussian_and_radius():
    def gaussian(z):
        return -0.5 * (z * z).sum(-1), -z

    result = hmc_chains(gaussian, torch.zeros(4000, 1, dtype=F64), 20, 10, 0.2, torch.Generator().manual_seed(1))
    assert stats.kstest(result.samples[:, 0].numpy(), "norm").pvalue > P_THRESHOLD
    bounded = hmc_chains(gaussian, torch.zeros(500, 2, dtype=F64), 10, 10, 0.2, torch.Generator().manual_seed(1), radius=0.5)
    assert bounded.samples.norm(dim=1).max() <= 0.5
    assert 0 < bounded.mean_acceptance < 1


# ------------------------------------------------------------------------ statistical tests


@pytest.fixture(scope="module")
def rhvae_target():
    metric = _rhvae_metric()
    radius = metric.compact_radius()
    edges = np.linspace(-radius, radius, N_BINS + 1)
    probabilities = _grid_bin_probabilities(lambda z: -0.5 * metric.log_det_metric(z), radius, edges)
    return metric, edges, probabilities


def _run(sampler_class, metric, seed=0, n=2000, **kwargs):
    return sampler_class(metric, **kwargs).run(n, torch.Generator().manual_seed(seed))


def test_riemannian_hmc_matches_target(rhvae_target):
    metric, edges, probabilities = rhvae_target
    result = _run(RiemannianHMCSampler, metric, n_steps=20, n_leapfrog=10, step_size=0.1)
    assert result.mean_acceptance > 0.8
    assert _chi_square_p_value(result.samples, probabilities, edges) > P_THRESHOLD


@pytest.mark.parametrize("broken", [_flipped_gradient, _inverted_target])
def test_riemannian_hmc_broken_variants_fail(rhvae_target, broken):
    metric, edges, probabilities = rhvae_target
    result = _run(broken(RiemannianHMCSampler), metric, n_steps=20, n_leapfrog=10, step_size=0.1)
    assert _chi_square_p_value(result.samples, probabilities, edges) < P_THRESHOLD


@pytest.fixture(scope="module")
def geometric_target():
    metric = _geometric_metric()
    radius = metric.compact_radius()
    edges = np.linspace(-radius, radius, N_BINS + 1)
    probabilities = _grid_bin_probabilities(lambda z: 0.5 * metric.log_det_metric(z), radius, edges)
    return metric, edges, probabilities


def test_geometric_hmc_matches_target(geometric_target):
    metric, edges, probabilities = geometric_target
    result = _run(GeometricHMCSampler, metric, n_steps=15, n_leapfrog=10, step_size=0.1)
    assert result.mean_acceptance > 0.8
    assert _chi_square_p_value(result.samples, probabilities, edges) > P_THRESHOLD


@pytest.mark.parametrize("broken", [_flipped_gradient, _inverted_target])
def test_geometric_hmc_broken_variants_fail(geometric_target, broken):
    metric, edges, probabilities = geometric_target
    result = _run(broken(GeometricHMCSampler), metric, n_steps=15, n_leapfrog=10, step_size=0.1)
    assert _chi_square_p_value(result.samples, probabilities, edges) < P_THRESHOLD


def _wrong_sign_field(metric, gram, p, q):
    """The reference exp map: dq/dt = +dH/dp (design pitfall 7)."""
    dp, dq = geodesic_vector_field(metric, gram, p, q)
    return dp, -dq


@pytest.fixture(scope="module")
def conformal_target():
    # The walk draws v ~ N(0, s^2 I) in coordinates, so its proposal is symmetric only to first order
    # (thesis remark 3). Its s -> 0 limit has the drift -s^2/2 sum_i Gamma^k_ii, which vanishes for a
    # conformal metric in 2D; there the walk is exact as s -> 0 (for a general metric it is not).
    metric = _rhvae_metric(conformal=True)
    radius = metric.compact_radius()
    edges = np.linspace(-radius, radius, 7)
    probabilities = _grid_bin_probabilities(lambda z: -0.5 * metric.log_det_metric(z), radius, edges)
    return metric, edges, probabilities


def test_random_walk_close_to_target_and_wrong_sign_is_not(conformal_target):
    metric, edges, probabilities = conformal_target
    kwargs = dict(n_steps=100, proposal_std=0.2, n_integration_steps=2)
    good = _run(RiemannianRandomWalk, metric, **kwargs)
    bad = _run(RiemannianRandomWalk, metric, vector_field=_wrong_sign_field, **kwargs)
    # sampling noise alone gives TV ~0.03 (36 bins, 2000 samples); the O(s) bias of the walk at
    # s = 0.2 measured 0.07; the wrong-sign exp map gives 0.28.
    assert _total_variation(good.samples, probabilities, edges) < 0.12
    assert _total_variation(bad.samples, probabilities, edges) > 0.2


@pytest.mark.slow
def test_random_walk_matches_target_for_small_steps(conformal_target):
    metric, edges, probabilities = conformal_target
    result = _run(RiemannianRandomWalk, metric, n=1000, n_steps=1500, proposal_std=0.05, n_integration_steps=2)
    assert _chi_square_p_value(result.samples, probabilities, edges) > P_THRESHOLD


# ----------------------------------------------------------------------------- exponential map


def test_exponential_map_is_a_straight_line_on_a_constant_metric():
    gen = torch.Generator().manual_seed(0)
    cholesky = torch.tril(torch.randn(3, 4, 4, generator=gen, dtype=F64), -1) + torch.eye(4, dtype=F64)
    metric = RHVAEMetric(torch.randn(3, 4, generator=gen, dtype=F64), cholesky, temperature=1e8, lam=1e-2)
    z, v = torch.randn(5, 4, generator=gen, dtype=F64), torch.randn(5, 4, generator=gen, dtype=F64)
    end, _ = exponential_map(metric, z, v, n_steps=7)
    torch.testing.assert_close(end, z + v, rtol=0, atol=1e-10)


def test_exponential_map_first_order():
    metric = _rhvae_metric()
    z = torch.tensor([[0.3, -0.2], [-0.8, 0.4]], dtype=F64)
    direction = torch.tensor([[1.0, 0.5], [-0.3, 1.0]], dtype=F64)
    errors = []
    for scale in (1e-2, 1e-3):
        end, _ = exponential_map(metric, z, scale * direction, n_steps=10)
        errors.append(float((end - z - scale * direction).norm()))
    assert errors[1] < 1e-5
    assert errors[0] / errors[1] > 50  # the error is O(|v|^2)


@pytest.mark.parametrize("conformal", [False, True])
def test_exponential_map_conserves_hamiltonian(conformal):
    metric = _rhvae_metric(conformal)
    gen = torch.Generator().manual_seed(3)
    z = CENTROIDS + 0.3 * torch.randn(3, 2, generator=gen, dtype=F64)
    v = 0.6 * torch.randn(3, 2, generator=gen, dtype=F64)
    q0 = torch.linalg.solve(metric.inverse(z), v)
    energy0 = geodesic_hamiltonian(metric, z, q0)
    end, q1 = exponential_map(metric, z, v, n_steps=50)
    drift = ((geodesic_hamiltonian(metric, end, q1) - energy0) / energy0).abs().max()
    # RK2 has an O(dt^2) energy error: with dt = 1/50 and this curvature it is below 1e-3
    assert drift < 1e-3
    bad_end, bad_q1 = exponential_map(metric, z, v, n_steps=50, vector_field=_wrong_sign_field)
    bad_drift = ((geodesic_hamiltonian(metric, bad_end, bad_q1) - energy0) / energy0).abs().max()
    assert bad_drift > 1e-2


# ------------------------------------------------------------------------------ sampler plumbing


def test_samplers_are_seeded_batched_and_bounded():
    metric = _rhvae_metric().float()
    for sampler in (
        RiemannianHMCSampler(metric, n_steps=3, n_leapfrog=3, step_size=0.05, batch_size=4),
        RiemannianRandomWalk(metric, n_steps=3, batch_size=4),
        GeometricHMCSampler(_geometric_metric().float(), n_steps=3, n_leapfrog=3, batch_size=4),
    ):
        a = sampler.run(10, torch.Generator().manual_seed(5))
        b = sampler.run(10, torch.Generator().manual_seed(5))
        assert a.samples.shape == (10, 2) and a.samples.dtype == torch.float32
        assert a.acceptance_rate.shape == (10,)
        torch.testing.assert_close(a.samples, b.samples, rtol=0, atol=0)
        assert bool(((a.acceptance_rate >= 0) & (a.acceptance_rate <= 1)).all())
        assert a.samples.norm(dim=1).max() <= 2 * CENTROIDS.norm(dim=1).max() + 1e-6


def test_sampler_sets_and_restores_threads():
    torch.set_num_threads(2)
    seen = []

    class Spy(RiemannianHMCSampler):
        def log_prob_and_grad(self, z):
            seen.append(torch.get_num_threads())
            return super().log_prob_and_grad(z)

    Spy(_rhvae_metric(), n_steps=1, n_leapfrog=1, num_threads=1).sample(2)
    assert set(seen) == {1} and torch.get_num_threads() == 2


# ------------------------------------------------------------------------------------ baselines


def test_prior_sampler():
    prior = PriorSampler(3)
    draws = prior.sample(20000, torch.Generator().manual_seed(0))
    assert draws.shape == (20000, 3)
    torch.testing.assert_close(draws.mean(0), torch.zeros(3), rtol=0, atol=0.03)
    torch.testing.assert_close(torch.cov(draws.T), torch.eye(3), rtol=0, atol=0.05)
    torch.testing.assert_close(draws, prior.sample(20000, torch.Generator().manual_seed(0)), rtol=0, atol=0)


def test_gaussian_mixture_sampler_recovers_clusters():
    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[-4.0, 0.0], [4.0, 1.0]])
    latents = torch.cat([c + 0.3 * torch.randn(300, 2, generator=gen) for c in centres])
    mixture = GaussianMixtureSampler(n_components=2).fit(latents)
    draws = mixture.sample(4000, torch.Generator().manual_seed(1))
    left = draws[:, 0] < 0
    assert abs(float(left.float().mean()) - 0.5) < 0.05
    torch.testing.assert_close(draws[left].mean(0), centres[0], rtol=0, atol=0.05)
    torch.testing.assert_close(draws[left].std(0), torch.full((2,), 0.3), rtol=0, atol=0.03)
    # components capped by the number of points; state round trip
    small = GaussianMixtureSampler().fit(latents[:4])
    assert small.weights.shape == (4,)
    restored = GaussianMixtureSampler()
    restored.load_state_dict(mixture.state_dict())
    torch.testing.assert_close(
        restored.sample(7, torch.Generator().manual_seed(2)), mixture.sample(7, torch.Generator().manual_seed(2))
    )
    with pytest.raises(RuntimeError):
        GaussianMixtureSampler().sample(3)


def test_burn_in_adaptation_rescues_a_step_size_far_too_large():
    # A tight target (one centroid, small lambda) with a step 100x too large: without adaptation
    # almost nothing is accepted; the burn-in brings acceptance near its target, and the kept
    # samples still follow the target (same variance as a long fixed-small-step chain).
    torch.manual_seed(0)
    d = 2

    def log_prob_and_grad(z):  # N(0, 0.01^2 I)
        return -0.5 * (z * z).sum(-1) / 1e-4, -z / 1e-4

    z0 = torch.zeros(2000, d, dtype=torch.float64)
    gen = torch.Generator().manual_seed(1)
    fixed = hmc_chains(log_prob_and_grad, z0, n_steps=20, n_leapfrog=5, step_size=1.0, generator=gen)
    assert fixed.mean_acceptance < 0.05
    gen = torch.Generator().manual_seed(1)
    adapted = hmc_chains(log_prob_and_grad, z0, n_steps=20, n_leapfrog=5, step_size=1.0, generator=gen,
                         adapt_steps=60, target_acceptance=0.7)
    assert 0.5 < adapted.mean_acceptance < 0.95
    # 2000 chains x 2 dims: the sample sd is within ~5 % of 0.01 (std error of an sd ~ 1.1 %)
    assert abs(float(adapted.samples.std()) / 0.01 - 1.0) < 0.05
