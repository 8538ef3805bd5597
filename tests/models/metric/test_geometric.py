"""medaug.models.metric.geometric: the diagonal metric of a vanilla VAE, closed forms against autograd and
analytic cases, and the module's state handling."""

import copy

import pytest
import torch

from medaug.models.metric import GeometricMetric, geometric_log_det_and_grad_log_det_metric, max_min_distance

F64 = torch.float64


@pytest.fixture
def geometric_setup():
    gen = torch.Generator().manual_seed(1)
    k, d, b = 8, 3, 5
    means = torch.randn(k, d, generator=gen, dtype=F64)
    variances = torch.rand(k, d, generator=gen, dtype=F64) * 0.5 + 0.05
    z = torch.randn(b, d, generator=gen, dtype=F64)
    return means, variances, z


def test_geometric_grad_matches_autograd(geometric_setup):
    means, variances, z = geometric_setup
    metric = GeometricMetric.from_posteriors(means, variances, lam=1e-2)
    zg = z.clone().requires_grad_(True)
    (autograd,) = torch.autograd.grad(metric.log_det_metric(zg).sum(), zg)
    closed = metric.grad_log_det_metric(z)
    torch.testing.assert_close(closed, autograd, rtol=1e-10, atol=1e-12)
    # the authors' gradient is half of this one: it must be measurably wrong
    assert (0.5 * closed - autograd).norm() > 0.25 * autograd.norm()


def test_geometric_matches_definition_and_chunking(geometric_setup):
    means, variances, z = geometric_setup
    rho, lam = 0.9, 0.03
    expected = torch.full_like(z, lam)
    for mu, var in zip(means, variances):
        w = torch.exp(-(((z - mu) ** 2) / var).sum(-1) / rho**2)
        expected = expected + w[:, None] / var
    metric = GeometricMetric(means, variances, rho, lam)
    torch.testing.assert_close(metric.metric_diag(z), expected)
    torch.testing.assert_close(metric.metric(z), torch.diag_embed(expected))
    torch.testing.assert_close(metric.inverse(z) @ metric.metric(z), torch.eye(3, dtype=F64).expand(5, 3, 3))
    whole = geometric_log_det_and_grad_log_det_metric(z, means, variances, rho, lam)
    chunked = geometric_log_det_and_grad_log_det_metric(z, means, variances, rho, lam, chunk_elements=1)
    for a, b in zip(whole, chunked):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_geometric_one_dimensional_analytic():
    mu, var, rho, lam = 0.3, 0.2, 0.7, 0.01
    z = torch.linspace(-1.5, 1.5, 13, dtype=F64)[:, None]
    w = torch.exp(-((z[:, 0] - mu) ** 2) / var / rho**2)
    g = w / var + lam
    dg = (w / var) * (-2 * (z[:, 0] - mu) / var / rho**2)
    metric = GeometricMetric(torch.tensor([[mu]], dtype=F64), torch.tensor([[var]], dtype=F64), rho, lam)
    log_det, grad = metric.log_det_and_grad_log_det_metric(z)
    torch.testing.assert_close(log_det, torch.log(g))
    torch.testing.assert_close(grad[:, 0], dg / g)


def test_geometric_differentiable_and_state(geometric_setup):
    means, variances, z = geometric_setup
    args = [t[:3].clone().requires_grad_(True) for t in (z, means, variances)]
    assert torch.autograd.gradcheck(
        lambda z_, m_, v_: geometric_log_det_and_grad_log_det_metric(z_, m_, v_, 0.8, 0.02), args
    )
    metric = GeometricMetric.from_posteriors(means, variances, lam=1e-2)
    reference = metric.log_det_and_grad_log_det_metric(z)
    loaded = GeometricMetric(means[:2] + 5, variances[:2], rho=1.0, lam=1e-2)
    loaded.rho = metric.rho
    loaded.load_state_dict(copy.deepcopy(metric).state_dict())
    for a, b in zip(reference, loaded.log_det_and_grad_log_det_metric(z)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    f32 = copy.deepcopy(metric).to(torch.float32)
    torch.testing.assert_close(f32.log_det_metric(z.float()).double(), reference[0], rtol=1e-5, atol=1e-5)


def test_max_min_distance():
    points = torch.tensor([[0.0], [1.0], [3.0], [7.5]])
    assert float(max_min_distance(points)) == pytest.approx(4.5)
    assert float(max_min_distance(points, chunk_elements=1)) == pytest.approx(4.5)
    with pytest.raises(ValueError):
        max_min_distance(points[:1])
    with pytest.raises(ValueError):
        GeometricMetric(points, -torch.ones_like(points), rho=1.0)
