"""Geometry-aware sampler of a vanilla VAE (thesis ch. 3, alg. 5): HMC on sqrt(det G(z)).

The target 1/2 log det G tends to the constant d/2 log lam far from the data, so it is improper on
R^d; as for the RHVAE sampler, it is restricted to {|z| <= radius_factor max_i |mu_i|}.
"""

from __future__ import annotations

import torch
from torch import Tensor

from medaug.models.metric import GeometricMetric
from medaug.sampling.chains import MCMCResult, random_rows, standard_normal, torch_threads
from medaug.sampling.hmc import hmc_chains

__all__ = ["GeometricHMCSampler"]


class GeometricHMCSampler:
    """HMC on p(z) proportional to sqrt(det G(z)) for a :class:`~medaug.models.metric.GeometricMetric`.

    Args:
        metric: the metric built from the training posteriors.
        n_steps: MCMC steps per chain (thesis: 100).
        n_leapfrog: leapfrog steps per trajectory (thesis: 10).
        step_size: leapfrog step (thesis: 0.01).
        radius_factor: compact set radius in units of max_i |mu_i|.
        start: ``"centroids"`` (random posterior means) or ``"prior"`` (N(0, I) draws).
        adapt_steps: burn-in iterations adapting each chain's step size (0: the thesis' fixed step).
        target_acceptance: acceptance probability the burn-in adaptation aims at.
        batch_size: chains run together.
        num_threads: torch intra-op threads while sampling (``None``: leave as is).
        progress: show a progress bar.
    """

    def __init__(
        self,
        metric: GeometricMetric,
        n_steps: int = 100,
        n_leapfrog: int = 10,
        step_size: float = 0.01,
        radius_factor: float = 2.0,
        start: str = "centroids",
        adapt_steps: int = 0,
        target_acceptance: float = 0.65,
        batch_size: int = 1000,
        num_threads: int | None = 1,
        progress: bool = False,
    ) -> None:
        if start not in ("centroids", "prior"):
            raise ValueError(f"start must be 'centroids' or 'prior', got {start!r}")
        self.metric = metric
        self.n_steps = n_steps
        self.n_leapfrog = n_leapfrog
        self.step_size = step_size
        self.radius_factor = radius_factor
        self.start = start
        self.adapt_steps = adapt_steps
        self.target_acceptance = target_acceptance
        self.batch_size = batch_size
        self.num_threads = num_threads
        self.progress = progress

    def log_prob_and_grad(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """log sqrt(det G(z)) and its gradient: (B, d) -> ((B,), (B, d))."""
        log_det, grad = self.metric.log_det_and_grad_log_det_metric(z)
        return 0.5 * log_det, 0.5 * grad

    def _starts(self, n: int, generator: torch.Generator | None) -> Tensor:
        means = self.metric.means
        if self.start == "centroids":
            return random_rows(means, n, generator)
        return standard_normal((n, means.shape[1]), means, generator)

    @torch.no_grad()
    def run(self, n: int, generator: torch.Generator | None = None) -> MCMCResult:
        """Run n chains; returns their last states (n, d) and acceptance rates (n,)."""
        radius = self.metric.compact_radius(self.radius_factor)
        parts = []
        with torch_threads(self.num_threads):
            for begin in range(0, n, self.batch_size):
                z0 = self._starts(min(self.batch_size, n - begin), generator)
                parts.append(
                    hmc_chains(
                        self.log_prob_and_grad, z0, self.n_steps, self.n_leapfrog, self.step_size,
                        generator, radius, self.progress, self.adapt_steps, self.target_acceptance,
                    )
                )
        return MCMCResult.concatenate(parts)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n latent codes, (n, d)."""
        return self.run(n, generator).samples
