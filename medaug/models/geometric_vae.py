"""Geometry-aware vanilla VAE (thesis ch. 3, sec. 3.4, algorithm 4).

Training is an unchanged vanilla VAE. After training, :meth:`GeometricVAE.fit_metric` encodes the
training set and builds the metric

    G(z) = sum_i diag(1 / var_i) w_i(z) + lambda I,   w_i(z) = exp(-(z - mu_i)^T Sigma_i^-1 (z - mu_i) / rho^2)

from the posterior means mu_i and variances var_i = exp(log_var_i), optionally on a k-medoids
subset of the means, with rho = max_i min_j |mu_i - mu_j| unless given. The metric lives in a
:class:`~medaug.models.metric.GeometricMetric` whose buffers follow ``state_dict``, ``.to()`` and
``copy.deepcopy``; rho, a plain float there, is mirrored in the buffer ``metric_rho`` so that it
travels with the weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from medaug.models.metric.geometric import GeometricMetric
from medaug.models.vae import VAE, VAEConfig, encode_dataset

__all__ = ["GeometricVAEConfig", "GeometricVAE", "k_medoids"]


@dataclass(frozen=True)
class GeometricVAEConfig(VAEConfig):
    """Vanilla VAE + post-training metric (thesis ch. 3).

    Attributes:
        metric_lambda: lambda (1e-2 in the thesis).
        metric_rho: kernel bandwidth; None for max_i min_j |mu_i - mu_j|.
        n_medoids: keep this many centroids chosen by k-medoids; None keeps all training points.
        medoids_seed: seed of the k-medoids initialisation.
        medoids_max_iterations: cap on the k-medoids alternations.
    """

    metric_lambda: float = 1e-2
    metric_rho: float | None = None
    n_medoids: int | None = None
    medoids_seed: int = 0
    medoids_max_iterations: int = 100

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.metric_lambda <= 0:
            raise ValueError(f"metric_lambda must be positive, got {self.metric_lambda}")
        if self.metric_rho is not None and self.metric_rho <= 0:
            raise ValueError(f"metric_rho must be positive or None, got {self.metric_rho}")
        if self.n_medoids is not None and self.n_medoids < 2:
            raise ValueError(f"n_medoids must be >= 2 or None, got {self.n_medoids}")


def k_medoids(points: Tensor, n_medoids: int, seed: int = 0, max_iterations: int = 100) -> Tensor:
    """Indices of ``n_medoids`` medoids of ``points`` (N, d) under the Euclidean distance: -> (k,).

    k-means++-style seeding (with a seeded generator), then alternation: assign each point to its
    nearest medoid, move each medoid to the member minimising the summed distance to its cluster;
    stop when the medoids no longer change. Deterministic for a given seed.
    """
    n_points = points.shape[0]
    if not 1 <= n_medoids <= n_points:
        raise ValueError(f"need 1 <= n_medoids <= {n_points}, got {n_medoids}")
    distances = torch.cdist(points.double(), points.double())
    generator = torch.Generator().manual_seed(seed)
    chosen = [int(torch.randint(n_points, (1,), generator=generator))]
    nearest = distances[chosen[0]].clone()
    for _ in range(1, n_medoids):
        weights = nearest.pow(2).cpu()
        if float(weights.sum()) == 0.0:
            candidates = torch.tensor([i for i in range(n_points) if i not in chosen])
            index = int(candidates[torch.randint(len(candidates), (1,), generator=generator)])
        else:
            index = int(torch.multinomial(weights, 1, generator=generator))
        chosen.append(index)
        nearest = torch.minimum(nearest, distances[index])
    medoids = torch.tensor(chosen, device=points.device)
    for _ in range(max_iterations):
        assignment = distances[:, medoids].argmin(1)
        updated = medoids.clone()
        for cluster in range(n_medoids):
            members = torch.nonzero(assignment == cluster).flatten()
            if members.numel() == 0:
                continue
            costs = distances[members][:, members].sum(1)
            updated[cluster] = members[costs.argmin()]
        if torch.equal(updated, medoids):
            break
        medoids = updated
    return medoids


class GeometricVAE(VAE):
    """Vanilla VAE whose ``metric`` (:class:`~medaug.models.metric.GeometricMetric`) is built by :meth:`fit_metric`."""

    model_type = "geometric_vae"
    config_class = GeometricVAEConfig

    def __init__(self, config: GeometricVAEConfig | None = None) -> None:
        super().__init__(config)
        dim = self.config.network.latent_size
        self.metric = GeometricMetric(torch.zeros(0, dim), torch.ones(0, dim), rho=1.0, lam=self.config.metric_lambda)
        self.register_buffer("metric_rho", torch.tensor(1.0, dtype=torch.float64))

    def fit_metric(self, data: Tensor, batch_size: int = 25) -> None:
        """Encode ``data`` (N, C, *S) and build the metric from its posteriors (algorithm 4)."""
        cfg = self.config
        means, log_vars = encode_dataset(self, data, batch_size)
        if cfg.n_medoids is not None and cfg.n_medoids < means.shape[0]:
            keep = k_medoids(means, cfg.n_medoids, cfg.medoids_seed, cfg.medoids_max_iterations)
            means, log_vars = means[keep], log_vars[keep]
        metric = GeometricMetric.from_posteriors(means, log_vars.exp(), lam=cfg.metric_lambda, rho=cfg.metric_rho)
        self.metric = metric.to(means.device)
        self.metric_rho.fill_(metric.rho)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self.metric.rho = float(self.metric_rho)
        return result
