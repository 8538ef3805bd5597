"""medaug.sampling.hmc: the leapfrog integrator, batched HMC chains with burn-in adaptation, and the
RHVAE sampler against its target (thesis ch. 1)."""

import numpy as np
import pytest
import torch
from scipy import stats

from medaug.sampling import RiemannianHMCSampler, hmc_chains, leapfrog
from tests.sampling._targets import (F64, N_BINS, P_THRESHOLD, chi_square_p_value, flipped_gradient, grid_bin_probabilities,
                                    inverted_target, rhvae_metric, run_chains)


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


def test_riemannian_hmc_matches_target(rhvae_target):
    metric, edges, probabilities = rhvae_target
    result = run_chains(RiemannianHMCSampler, metric, n_steps=20, n_leapfrog=10, step_size=0.1)
    assert result.mean_acceptance > 0.8
    assert chi_square_p_value(result.samples, probabilities, edges) > P_THRESHOLD


@pytest.mark.parametrize("broken", [flipped_gradient, inverted_target])
def test_riemannian_hmc_broken_variants_fail(rhvae_target, broken):
    metric, edges, probabilities = rhvae_target
    result = run_chains(broken(RiemannianHMCSampler), metric, n_steps=20, n_leapfrog=10, step_size=0.1)
    assert chi_square_p_value(result.samples, probabilities, edges) < P_THRESHOLD


def test_riemannian_hmc_support_keeps_chains_near_the_training_codes():
    metric = rhvae_metric()
    radius = metric.compact_radius()
    edges = np.linspace(-radius, radius, N_BINS + 1)
    factor = 1.5
    limit = factor * metric.temperature

    def restricted(z):
        inside = torch.cdist(z, metric.centroids).min(dim=1).values <= limit
        return torch.where(inside, -0.5 * metric.log_det_metric(z), torch.full_like(z[:, 0], -torch.inf))

    probabilities = grid_bin_probabilities(restricted, radius, edges)
    result = run_chains(RiemannianHMCSampler, metric, n_steps=20, n_leapfrog=10, step_size=0.1,
                        support_temperatures=factor)
    assert float(torch.cdist(result.samples, metric.centroids).min(dim=1).values.max()) <= limit
    assert chi_square_p_value(result.samples, probabilities, edges) > P_THRESHOLD
    free = run_chains(RiemannianHMCSampler, metric, n_steps=20, n_leapfrog=10, step_size=0.1)
    assert bool((torch.cdist(free.samples, metric.centroids).min(dim=1).values > limit).any())


def test_riemannian_hmc_support_must_be_positive():
    with pytest.raises(ValueError, match="support_temperatures"):
        RiemannianHMCSampler(rhvae_metric(), support_temperatures=0.0)


def test_support_is_none_without_a_restriction_and_chains_match_an_all_true_mask():
    """``support(z)`` returns None when the target is not restricted beyond the ball; ``hmc_chains``
    then draws exactly what it draws with a support that accepts every point."""
    metric = rhvae_metric()
    z = torch.randn(5, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    free = RiemannianHMCSampler(metric)
    assert free.support(z) is None
    restricted = RiemannianHMCSampler(metric, support_temperatures=1.0).support(z)
    assert restricted.dtype == torch.bool and restricted.shape == (5,)

    def chains(support):
        return hmc_chains(free.log_prob_and_grad, metric.centroids.repeat(4, 1), 10, 5, 0.1,
                          torch.Generator().manual_seed(2), metric.compact_radius(), support=support)

    reference = chains(lambda z_: torch.ones(z_.shape[0], dtype=torch.bool))
    for support in (None, free.support, lambda z_: None):
        result = chains(support)
        assert torch.equal(result.samples, reference.samples)
        assert torch.equal(result.acceptance_rate, reference.acceptance_rate)
