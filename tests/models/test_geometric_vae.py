"""The geometry-aware VAE (thesis ch. 3): k-medoids centroids and the metric built from the posteriors."""

import pytest
import torch

from medaug.models.geometric_vae import k_medoids
from medaug.models.metric import max_min_distance
from medaug.models.vae import encode_dataset
from tests.models.test_vae import NET_2D, _model


def test_k_medoids_is_deterministic_and_finds_clusters():
    generator = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    points = torch.cat([c + 0.1 * torch.randn(20, 2, generator=generator) for c in centres])
    first, second = k_medoids(points, 3, seed=1), k_medoids(points, 3, seed=1)
    assert torch.equal(first, second)
    assert sorted(int(i) // 20 for i in first) == [0, 1, 2]  # one medoid per cluster
    with pytest.raises(ValueError):
        k_medoids(points, 0)


def test_geometric_vae_builds_its_metric_from_the_posteriors():
    model = _model("geometric_vae", n_medoids=4)
    data = torch.rand(10, *NET_2D.in_shape)
    model.fit_metric(data, batch_size=3)
    means, log_vars = encode_dataset(model, data, 10)
    assert model.metric.num_centroids == 4
    # each centroid is one of the training posteriors, with its own variance
    matches = torch.cdist(model.metric.means, means).argmin(1)
    assert torch.allclose(model.metric.means, means[matches], atol=1e-6)
    assert torch.allclose(model.metric.variances, log_vars[matches].exp(), rtol=1e-5)
    assert model.metric.rho == pytest.approx(float(max_min_distance(model.metric.means)), rel=1e-5)
    assert float(model.metric_rho) == pytest.approx(model.metric.rho)
