"""medaug.sampling.random_walk: the exponential map (thesis ch. 2, alg. 2) and the Riemannian random
walk (alg. 3) against its target, with the sign error of the reference geodesic integrator planted."""

import pytest
import torch

from medaug.models.metric import RHVAEMetric
from medaug.sampling import RiemannianRandomWalk, exponential_map, geodesic_hamiltonian
from medaug.sampling.random_walk import geodesic_vector_field
from tests.sampling._targets import CENTROIDS, F64, P_THRESHOLD, chi_square_p_value, rhvae_metric, run_chains, total_variation


def _wrong_sign_field(metric, p, q):
    """The thesis' reference exp map: dq/dt = +dH/dp, the sign error of its geodesic integrator."""
    dp, dq = geodesic_vector_field(metric, p, q)
    return dp, -dq


def test_random_walk_close_to_target_and_wrong_sign_is_not(conformal_target):
    metric, edges, probabilities = conformal_target
    kwargs = dict(n_steps=100, proposal_std=0.2, n_integration_steps=2)
    good = run_chains(RiemannianRandomWalk, metric, **kwargs)
    bad = run_chains(RiemannianRandomWalk, metric, vector_field=_wrong_sign_field, **kwargs)
    # sampling noise alone gives TV ~0.03 (36 bins, 2000 samples); the O(s) bias of the walk at
    # s = 0.2 measured 0.07; the wrong-sign exp map gives 0.28.
    assert total_variation(good.samples, probabilities, edges) < 0.12
    assert total_variation(bad.samples, probabilities, edges) > 0.2


@pytest.mark.slow
def test_random_walk_matches_target_for_small_steps(conformal_target):
    metric, edges, probabilities = conformal_target
    result = run_chains(RiemannianRandomWalk, metric, n=1000, n_steps=1500, proposal_std=0.05, n_integration_steps=2)
    assert chi_square_p_value(result.samples, probabilities, edges) > P_THRESHOLD


def test_exponential_map_is_a_straight_line_on_a_constant_metric():
    gen = torch.Generator().manual_seed(0)
    cholesky = torch.tril(torch.randn(3, 4, 4, generator=gen, dtype=F64), -1) + torch.eye(4, dtype=F64)
    metric = RHVAEMetric(torch.randn(3, 4, generator=gen, dtype=F64), cholesky, temperature=1e8, lam=1e-2)
    z, v = torch.randn(5, 4, generator=gen, dtype=F64), torch.randn(5, 4, generator=gen, dtype=F64)
    end, _ = exponential_map(metric, z, v, n_steps=7)
    torch.testing.assert_close(end, z + v, rtol=0, atol=1e-10)


def test_exponential_map_first_order():
    metric = rhvae_metric()
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
    metric = rhvae_metric(conformal)
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
