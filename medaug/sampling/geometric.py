"""Geometry-aware sampler of a vanilla VAE (thesis ch. 3, alg. 5): HMC on sqrt(det G(z)).

The target 1/2 log det G tends to the constant d/2 log lam far from the data, so it is improper on
R^d; as for the RHVAE sampler, it is restricted to {|z| <= radius_factor max_i |mu_i|}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from medaug.models.metric.geometric import GeometricMetric
from medaug.sampling.chains import ChainSettings, standard_normal
from medaug.sampling.hmc import HMCSampler, HMCSettings

__all__ = ["GeometricHMCSettings", "GeometricHMCSampler"]


@dataclass(frozen=True)
class GeometricHMCSettings(HMCSettings):
    """:class:`~medaug.sampling.hmc.HMCSettings` with the thesis' defaults for the geometry-aware
    sampler (ch. 3: 100 steps of 10 leapfrog steps of 0.01), and where the chains start:
    ``"centroids"`` (random posterior means) or ``"prior"`` (N(0, I) draws)."""

    n_steps: int = 100
    n_leapfrog: int = 10
    step_size: float = 0.01
    start: str = "centroids"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.start not in ("centroids", "prior"):
            raise ValueError(f"start must be 'centroids' or 'prior', got {self.start!r}")


class GeometricHMCSampler(HMCSampler):
    """HMC on p(z) proportional to sqrt(det G(z)) for a :class:`~medaug.models.metric.GeometricMetric`.

    Args:
        metric: the metric built from the training posteriors.
        settings: :class:`GeometricHMCSettings`.
        **options: fields of ``settings`` to override.
    """

    settings_class: ClassVar[type[ChainSettings]] = GeometricHMCSettings
    settings: GeometricHMCSettings
    metric: GeometricMetric

    def log_prob_and_grad(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """log sqrt(det G(z)) and its gradient: (B, d) -> ((B,), (B, d))."""
        log_det, grad = self.metric.log_det_and_grad_log_det_metric(z)
        return 0.5 * log_det, 0.5 * grad

    def _starts(self, n: int, generator: torch.Generator | None) -> Tensor:
        if self.settings.start == "centroids":
            return super()._starts(n, generator)
        means = self.metric.means
        return standard_normal((n, means.shape[1]), means, generator)
