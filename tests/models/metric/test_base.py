"""medaug.models.metric.base: the chunked loop over centroids, the linear-algebra helpers and the
metric modules' shared state handling (:class:`KernelMetric`)."""

from __future__ import annotations

import pytest
import torch

from medaug.models.metric import GeometricMetric, RHVAEMetric
from medaug.models.metric.base import KernelMetric, centroid_chunks, identity_like, log_det_from_factor

F64 = torch.float64


class _Centres(KernelMetric):
    """The smallest metric: G(z) = lam I, with N centres and one bandwidth."""

    _resizable = ("centres_", "weights")

    def __init__(self, centres, weights, lam=0.5, bandwidth=2.0, chunk_elements=16):
        super().__init__((centres, weights), chunk_elements, lam=lam, bandwidth=bandwidth)
        self.refreshed = 0

    def _refresh(self):
        self.refreshed += 1


@pytest.mark.parametrize(("n_batch", "n_centroids", "width", "budget"), [(4, 10, 3, 24), (4, 10, 3, 1), (1, 7, 1, 1000),
                                                                          (5, 0, 2, 100)])
def test_centroid_chunks_cover_every_centroid_once_within_the_budget(n_batch, n_centroids, width, budget):
    chunks = list(centroid_chunks(n_batch, n_centroids, width, budget))
    assert [i for c in chunks for i in range(c.start, c.stop)] == list(range(n_centroids))
    assert all(n_batch * (c.stop - c.start) * width <= max(budget, n_batch * width) for c in chunks)


def test_centroid_chunks_by_hand():
    assert list(centroid_chunks(4, 10, 3, 24)) == [slice(0, 2), slice(2, 4), slice(4, 6), slice(6, 8), slice(8, 10)]
    assert list(centroid_chunks(4, 10, 3, 1)) == [slice(i, i + 1) for i in range(10)]  # at least one centroid


def test_log_det_from_a_cholesky_factor_equals_logdet():
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(3, 4, 4, generator=generator, dtype=F64)
    spd = a @ a.transpose(-1, -2) + 0.1 * torch.eye(4, dtype=F64)
    torch.testing.assert_close(log_det_from_factor(torch.linalg.cholesky(spd)), torch.logdet(spd))
    assert log_det_from_factor(torch.diag(torch.tensor([2.0, 3.0]))[None]).item() == pytest.approx(2 * 1.791759469)


def test_identity_like_follows_dtype_and_size():
    eye = identity_like(torch.zeros(5, 3, dtype=F64))
    assert eye.dtype == F64 and torch.equal(eye, torch.eye(3, dtype=F64))


def test_hyper_parameters_must_be_positive_and_become_floats():
    metric = _Centres(torch.zeros(2, 3), torch.ones(2), lam=1, bandwidth=3)
    assert isinstance(metric.lam, float) and metric.bandwidth == 3.0
    with pytest.raises(ValueError, match="_Centres: bandwidth must be positive, got 0"):
        _Centres(torch.zeros(2, 3), torch.ones(2), bandwidth=0)
    with pytest.raises(ValueError, match="lam must be positive"):
        _Centres(torch.zeros(2, 3), torch.ones(2), lam=float("nan"))


def test_state_of_another_number_of_centres_loads_and_refreshes():
    small = _Centres(torch.zeros(2, 3), torch.ones(2))
    big = _Centres(torch.arange(15.0).reshape(5, 3), torch.arange(5.0))
    before = small.refreshed
    small.load_state_dict(big.state_dict())
    assert (small.num_centroids, small.latent_dim) == (5, 3) and torch.equal(small.centres, big.centres)
    assert torch.equal(small.weights, torch.arange(5.0)) and small.refreshed == before + 1


def test_buffers_are_copies_and_follow_the_dtype():
    centres = torch.ones(2, 3)
    metric = _Centres(centres, torch.ones(2))
    centres.add_(1.0)
    assert torch.equal(metric.centres, torch.ones(2, 3))
    assert metric.to(F64).centres.dtype == F64


def test_compact_radius_is_a_multiple_of_the_farthest_centre():
    metric = _Centres(torch.tensor([[3.0, 4.0, 0.0], [0.0, 1.0, 0.0]]), torch.ones(2))
    assert metric.compact_radius() == 10.0 and metric.compact_radius(1.5) == 7.5


def test_the_base_class_leaves_the_metric_to_its_subclasses():
    metric = _Centres(torch.zeros(1, 2), torch.ones(1))
    for method in (metric.metric, metric.inverse, metric.log_det_metric, metric.grad_log_det_metric, metric):
        with pytest.raises(NotImplementedError):
            method(torch.zeros(1, 2))


def test_metric_repr_shows_sizes_and_hyper_parameters():
    assert repr(RHVAEMetric.empty(4, temperature=0.8, lam=1e-3)) == (
        "RHVAEMetric(num_centroids=0, latent_dim=4, temperature=0.8, lam=0.001)")
    geometric = GeometricMetric(torch.zeros(2, 3), torch.ones(2, 3), rho=1.234567, lam=1e-2)
    assert repr(geometric) == "GeometricMetric(num_centroids=2, latent_dim=3, rho=1.235, lam=0.01)"
