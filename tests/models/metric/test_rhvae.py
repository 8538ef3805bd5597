"""medaug.models.metric.rhvae: the RHVAE metric through its inverse, closed forms against autograd and
analytic cases, and the module's state handling."""

import copy
import math

import pytest
import torch

from medaug.models.metric import (
    RHVAEMetric,
    rhvae_grad_inverse_quadratic_form,
    rhvae_grad_log_det_metric,
    rhvae_inverse_metric,
    rhvae_log_det_and_grad_log_det_metric,
    rhvae_log_det_metric,
    rhvae_metric,
)

F64 = torch.float64


def _random_cholesky(n, d, generator, dtype=F64):
    lower = torch.tril(torch.randn(n, d, d, generator=generator, dtype=dtype), -1)
    diag = torch.rand(n, d, generator=generator, dtype=dtype) + 0.3
    return lower + torch.diag_embed(diag)


@pytest.fixture
def rhvae_setup():
    gen = torch.Generator().manual_seed(0)
    n, d, b = 9, 4, 6
    centroids = torch.randn(n, d, generator=gen, dtype=F64)
    cholesky = _random_cholesky(n, d, gen)
    z = torch.randn(b, d, generator=gen, dtype=F64)
    return centroids, cholesky, z


def test_rhvae_inverse_matches_definition(rhvae_setup):
    centroids, cholesky, z = rhvae_setup
    temperature, lam = 1.5, 1e-2
    expected = lam * torch.eye(z.shape[1], dtype=F64).repeat(z.shape[0], 1, 1)
    for c, low in zip(centroids, cholesky):
        w = torch.exp(-((z - c) ** 2).sum(-1) / temperature**2)
        expected = expected + w[:, None, None] * (low @ low.T)
    got = rhvae_inverse_metric(z, centroids, cholesky, temperature, lam)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    metric = rhvae_metric(z, centroids, cholesky, temperature, lam)
    torch.testing.assert_close(metric @ got, torch.eye(z.shape[1], dtype=F64).expand_as(got), rtol=0, atol=1e-10)
    torch.testing.assert_close(rhvae_log_det_metric(z, centroids, cholesky, temperature, lam), -torch.logdet(expected))


@pytest.mark.parametrize("temperature", [0.8, 1.5, 3.0])
def test_rhvae_grad_log_det_matches_autograd(rhvae_setup, temperature):
    centroids, cholesky, z = rhvae_setup
    z = z.clone().requires_grad_(True)
    log_det = rhvae_log_det_metric(z, centroids, cholesky, temperature, 1e-2)
    (autograd,) = torch.autograd.grad(log_det.sum(), z)
    closed = rhvae_grad_log_det_metric(z.detach(), centroids, cholesky, temperature, 1e-2)
    torch.testing.assert_close(closed, autograd, rtol=1e-10, atol=1e-12)


def test_rhvae_grad_differs_from_reference_formula(rhvae_setup):
    """The authors' reference sampler (Pythae 0.1.2) drops tr(G M_i) for a plain sum: ours must not agree."""
    centroids, cholesky, z = rhvae_setup
    temperature = 1.5
    closed = rhvae_grad_log_det_metric(z, centroids, cholesky, temperature, 1e-2)
    w = torch.exp(-torch.cdist(z, centroids) ** 2 / temperature**2)
    wrong = (2 / temperature**2) * (w[..., None] * (z[:, None] - centroids[None])).sum(1)
    assert (closed - wrong).norm() > 0.1 * closed.norm()


def test_rhvae_chunking_does_not_change_results(rhvae_setup):
    centroids, cholesky, z = rhvae_setup
    whole = rhvae_log_det_and_grad_log_det_metric(z, centroids, cholesky, 1.5, 1e-2)
    chunked = rhvae_log_det_and_grad_log_det_metric(z, centroids, cholesky, 1.5, 1e-2, chunk_elements=1)
    for a, b in zip(whole, chunked):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_rhvae_one_dimensional_analytic():
    c, ell, temperature, lam = 0.4, 1.7, 0.9, 0.05
    z = torch.linspace(-2, 2, 11, dtype=F64)[:, None]
    w = torch.exp(-((z[:, 0] - c) ** 2) / temperature**2)
    inverse = ell**2 * w + lam
    expected_grad = -(ell**2 * w * (-2 * (z[:, 0] - c) / temperature**2)) / inverse
    metric = RHVAEMetric(torch.tensor([[c]], dtype=F64), torch.tensor([[[ell]]], dtype=F64), temperature, lam)
    log_det, grad = metric.log_det_and_grad_log_det_metric(z)
    torch.testing.assert_close(log_det, -torch.log(inverse))
    torch.testing.assert_close(grad[:, 0], expected_grad)


def test_rhvae_lambda_only_and_far_field():
    d, lam = 5, 1e-2
    z = torch.randn(4, d, dtype=F64)
    empty = RHVAEMetric.empty(d, lam=lam).double()
    torch.testing.assert_close(empty.log_det_metric(z), torch.full((4,), -d * math.log(lam), dtype=F64))
    torch.testing.assert_close(empty.grad_log_det_metric(z), torch.zeros(4, d, dtype=F64))
    # far from a centroid the kernel vanishes and G^-1 -> lam I
    one = RHVAEMetric(torch.zeros(1, d, dtype=F64), torch.eye(d, dtype=F64)[None] * 3, 1.0, lam)
    far = torch.full((1, d), 20.0, dtype=F64)
    torch.testing.assert_close(one.inverse(far)[0], lam * torch.eye(d, dtype=F64))
    # at the centroid G^-1 = M + lam I, and the gradient vanishes by symmetry
    at = torch.zeros(1, d, dtype=F64)
    torch.testing.assert_close(one.inverse(at)[0], (9 + lam) * torch.eye(d, dtype=F64))
    torch.testing.assert_close(one.grad_log_det_metric(at), torch.zeros(1, d, dtype=F64))


def test_rhvae_constant_metric_has_zero_gradient(rhvae_setup):
    centroids, cholesky, z = rhvae_setup
    # T -> infinity makes every kernel weight 1: G^-1 = sum M_i + lam I everywhere
    log_det, grad = rhvae_log_det_and_grad_log_det_metric(z, centroids, cholesky, 1e8, 1e-2)
    expected = -torch.logdet((cholesky @ cholesky.transpose(-1, -2)).sum(0) + 1e-2 * torch.eye(z.shape[1], dtype=F64))
    torch.testing.assert_close(log_det, expected.expand(z.shape[0]))
    assert grad.abs().max() < 1e-12


def test_rhvae_differentiable_in_every_argument(rhvae_setup):
    centroids, cholesky, z = rhvae_setup
    args = [t[:3].clone().requires_grad_(True) for t in (z, centroids, cholesky)]
    temperature = torch.tensor(1.3, dtype=F64, requires_grad=True)
    lam = torch.tensor(0.05, dtype=F64, requires_grad=True)

    def fn(z_, c_, l_, t_, lam_):
        log_det, grad = rhvae_log_det_and_grad_log_det_metric(z_, c_, torch.tril(l_), t_, lam_)
        return log_det, grad, rhvae_metric(z_, c_, torch.tril(l_), t_, lam_)

    assert torch.autograd.gradcheck(fn, (*args, temperature, lam))


def test_rhvae_float32_agrees_with_float64(rhvae_setup):
    centroids, cholesky, z = rhvae_setup
    m64 = RHVAEMetric(centroids, cholesky, 1.5, 1e-2)
    m32 = copy.deepcopy(m64).float()
    for a, b in zip(m64.log_det_and_grad_log_det_metric(z), m32.log_det_and_grad_log_det_metric(z.float())):
        assert b.dtype == torch.float32
        torch.testing.assert_close(b.double(), a, rtol=1e-4, atol=1e-4)


def test_rhvae_module_state_round_trips(rhvae_setup):
    centroids, cholesky, z = rhvae_setup
    metric = RHVAEMetric(centroids, cholesky, 1.5, 1e-2)
    reference = metric.log_det_and_grad_log_det_metric(z)
    clone = copy.deepcopy(metric)
    metric.centroids.add_(1.0)  # the copy must not share storage with the original
    for a, b in zip(reference, clone.log_det_and_grad_log_det_metric(z)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    metric.centroids.copy_(centroids)
    loaded = RHVAEMetric.empty(z.shape[1], temperature=1.5, lam=1e-2).double()
    loaded.load_state_dict(metric.state_dict())
    assert loaded.num_centroids == centroids.shape[0]
    for a, b in zip(reference, loaded.log_det_and_grad_log_det_metric(z)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    back = metric.float().to(F64)
    assert back.centroids.dtype == F64 and set(back.state_dict()) == {"centroids", "cholesky"}


def test_rhvae_inverse_quadratic_form_gradient_matches_autograd(rhvae_setup):
    centroids, cholesky, z = rhvae_setup
    metric = RHVAEMetric(centroids, cholesky, 1.5, 1e-2)
    q = torch.randn(z.shape, generator=torch.Generator().manual_seed(3), dtype=F64)
    z = z.clone().requires_grad_(True)
    quadratic = (q[:, None, :] @ metric.inverse(z) @ q[:, :, None]).sum()
    (expected,) = torch.autograd.grad(quadratic, z)
    z = z.detach()
    torch.testing.assert_close(metric.grad_inverse_quadratic_form(z, q), expected, rtol=1e-10, atol=1e-12)
    # the pure function on L_i is the module's kernel on M_i = L_i L_i^T
    pure = rhvae_grad_inverse_quadratic_form(z, q, centroids, cholesky, 1.5)
    torch.testing.assert_close(pure, metric.grad_inverse_quadratic_form(z, q), rtol=0, atol=0)


def test_rhvae_inverse_quadratic_form_gradient_is_differentiable(rhvae_setup):
    """The RHVAE's training flow differentiates it in z, q, the centroids (encoder) and L (metric network)."""
    centroids, cholesky, z = rhvae_setup
    q = torch.randn(z.shape, generator=torch.Generator().manual_seed(5), dtype=F64)
    args = [t[:3].clone().requires_grad_(True) for t in (z, q, centroids, cholesky)]
    temperature = torch.tensor(1.3, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda z_, q_, c_, l_, t_: rhvae_grad_inverse_quadratic_form(z_, q_, c_, torch.tril(l_), t_, chunk_elements=1),
        (*args, temperature),
    )


def test_rhvae_precomputed_gram_follows_new_centroids(rhvae_setup):
    centroids, cholesky, z = rhvae_setup
    metric = RHVAEMetric.empty(z.shape[1], temperature=1.5, lam=1e-2).double()
    metric.set_centroids(centroids, 2.0 * cholesky)
    torch.testing.assert_close(metric.inverse(z), rhvae_inverse_metric(z, centroids, 2.0 * cholesky, 1.5, 1e-2),
                               rtol=0, atol=0)
    for a, b in zip(metric.log_det_and_grad_log_det_metric(z),
                    rhvae_log_det_and_grad_log_det_metric(z, centroids, 2.0 * cholesky, 1.5, 1e-2)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_rhvae_rejects_bad_shapes_and_hyper_parameters():
    with pytest.raises(ValueError, match="cholesky"):
        RHVAEMetric(torch.zeros(3, 2), torch.zeros(3, 3, 3))
    with pytest.raises(ValueError, match="temperature must be positive"):
        RHVAEMetric(torch.zeros(3, 2), torch.zeros(3, 2, 2), temperature=0.0)
    with pytest.raises(ValueError, match="lam must be positive"):
        RHVAEMetric(torch.zeros(3, 2), torch.zeros(3, 2, 2), lam=-1.0)
    metric = RHVAEMetric.empty(2)
    with pytest.raises(ValueError, match="cholesky"):
        metric.set_centroids(torch.zeros(3, 2), torch.zeros(2, 2, 2))
    # the pure functions check the same shapes
    for fn in (rhvae_inverse_metric, rhvae_log_det_and_grad_log_det_metric):
        with pytest.raises(ValueError, match="cholesky"):
            fn(torch.zeros(1, 2), torch.zeros(3, 2), torch.zeros(3, 3, 3), 1.5, 1e-2)
    with pytest.raises(ValueError, match="cholesky"):
        rhvae_grad_inverse_quadratic_form(torch.zeros(1, 2), torch.zeros(1, 2), torch.zeros(3), torch.zeros(3, 1, 1), 1.5)
