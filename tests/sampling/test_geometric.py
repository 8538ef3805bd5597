"""medaug.sampling.geometric: HMC on sqrt(det G) of a geometry-aware VAE against its target (thesis ch. 3)."""

import pytest

from medaug.sampling import GeometricHMCSampler
from tests.sampling._targets import P_THRESHOLD, chi_square_p_value, flipped_gradient, inverted_target, run_chains


def test_geometric_hmc_matches_target(geometric_target):
    metric, edges, probabilities = geometric_target
    result = run_chains(GeometricHMCSampler, metric, n_steps=15, n_leapfrog=10, step_size=0.1)
    assert result.mean_acceptance > 0.8
    assert chi_square_p_value(result.samples, probabilities, edges) > P_THRESHOLD


@pytest.mark.parametrize("broken", [flipped_gradient, inverted_target])
def test_geometric_hmc_broken_variants_fail(geometric_target, broken):
    metric, edges, probabilities = geometric_target
    result = run_chains(broken(GeometricHMCSampler), metric, n_steps=15, n_leapfrog=10, step_size=0.1)
    assert chi_square_p_value(result.samples, probabilities, edges) < P_THRESHOLD
