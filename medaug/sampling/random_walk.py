"""Riemannian random walk of the thesis (ch. 2, alg. 2-3) on an RHVAE metric.

Exponential map (alg. 2): integrate the geodesic Hamiltonian H(p, q) = 1/2 q^T G^-1(p) q from
p(0) = z, q(0) = G(z) v over t in [0, 1] with the explicit midpoint rule (RK2):

    dp/dt = dH/dq = G^-1(p) q
    dq/dt = -dH/dp = -1/2 d/dp (q^T G^-1(p) q)

(the reference code has the sign of dq/dt wrong, design pitfall 7; with it a geodesic of a
constant metric would still be a line, but H drifts). Since dp/dt(0) = v, Exp_z(v) = z + v + O(|v|^2).

Random walk (alg. 3): v ~ N(0, s^2 I), z' = Exp_z(v), accepted with probability
min(1, sqrt(det G^-1(z')) / sqrt(det G^-1(z))) and only inside {|z| <= 2 max_i |c_i|}. The proposal is
symmetric only to first order in s (thesis remark 3): the chain's law approaches the target as s -> 0.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor
from tqdm.auto import tqdm

from medaug.models.metric import (
    RHVAEMetric,
    rhvae_grad_inverse_quadratic_form_from_gram,
    rhvae_inverse_metric_from_gram,
)
from medaug.sampling.chains import MCMCResult, random_rows, standard_normal, torch_threads, uniform

__all__ = [
    "GeodesicField",
    "geodesic_vector_field",
    "geodesic_hamiltonian",
    "exponential_map",
    "RiemannianRandomWalk",
]

#: (metric, gram (N, d, d), p (B, d), q (B, d)) -> (dp/dt (B, d), dq/dt (B, d))
GeodesicField = Callable[[RHVAEMetric, Tensor, Tensor, Tensor], tuple[Tensor, Tensor]]


def geodesic_vector_field(metric: RHVAEMetric, gram: Tensor, p: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
    """Hamilton's equations of H(p, q) = 1/2 q^T G^-1(p) q: returns (G^-1(p) q, -dH/dp), each (B, d)."""
    inverse = rhvae_inverse_metric_from_gram(p, metric.centroids, gram, metric.temperature, metric.lam, metric.chunk_elements)
    dp = (inverse @ q[:, :, None])[:, :, 0]
    dq = -0.5 * rhvae_grad_inverse_quadratic_form_from_gram(p, q, metric.centroids, gram, metric.temperature, metric.chunk_elements)
    return dp, dq


def geodesic_hamiltonian(metric: RHVAEMetric, p: Tensor, q: Tensor) -> Tensor:
    """H(p, q) = 1/2 q^T G^-1(p) q: (B, d), (B, d) -> (B,)."""
    return 0.5 * (q[:, None, :] @ metric.inverse(p) @ q[:, :, None])[:, 0, 0]


def exponential_map(
    metric: RHVAEMetric,
    z: Tensor,
    v: Tensor,
    n_steps: int = 10,
    vector_field: GeodesicField = geodesic_vector_field,
    gram: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Exp_z(v) by ``n_steps`` RK2 (midpoint) steps of size 1 / n_steps (thesis ch. 2, alg. 2).

    Args:
        metric: the RHVAE metric.
        z: base points, (B, d).
        v: tangent vectors at z (velocities, in latent coordinates), (B, d).
        n_steps: integration steps over t in [0, 1].
        vector_field: Hamilton's equations (replaceable for tests).
        gram: M_i = L_i L_i^T if already computed, (N, d, d).

    Returns:
        (end points p(1) (B, d), end momenta q(1) (B, d)).
    """
    gram = metric.gram() if gram is None else gram
    inverse0 = rhvae_inverse_metric_from_gram(z, metric.centroids, gram, metric.temperature, metric.lam, metric.chunk_elements)
    q = torch.cholesky_solve(v[:, :, None], torch.linalg.cholesky(inverse0))[:, :, 0]  # q0 = G(z) v
    p = z
    dt = 1.0 / n_steps
    for _ in range(n_steps):
        dp, dq = vector_field(metric, gram, p, q)
        dp, dq = vector_field(metric, gram, p + 0.5 * dt * dp, q + 0.5 * dt * dq)
        p = p + dt * dp
        q = q + dt * dq
    return p, q


class RiemannianRandomWalk:
    """Metropolis random walk with wrapped-normal proposals Exp_z(v), v ~ N(0, s^2 I) (thesis ch. 2, alg. 3).

    Args:
        metric: the RHVAE metric.
        n_steps: random-walk steps per chain (thesis: 200).
        proposal_std: s (the thesis gives no value; small s = nearly symmetric proposals).
        n_integration_steps: RK2 steps of the exponential map.
        radius_factor: compact set radius in units of max_i |c_i|.
        batch_size: chains run together.
        num_threads: torch intra-op threads while sampling (``None``: leave as is).
        progress: show a progress bar.
    """

    def __init__(
        self,
        metric: RHVAEMetric,
        n_steps: int = 200,
        proposal_std: float = 0.1,
        n_integration_steps: int = 10,
        radius_factor: float = 2.0,
        batch_size: int = 1000,
        num_threads: int | None = 1,
        progress: bool = False,
        vector_field: GeodesicField = geodesic_vector_field,
    ) -> None:
        self.metric = metric
        self.n_steps = n_steps
        self.proposal_std = proposal_std
        self.n_integration_steps = n_integration_steps
        self.radius_factor = radius_factor
        self.batch_size = batch_size
        self.num_threads = num_threads
        self.progress = progress
        self.vector_field = vector_field

    def _log_target(self, z: Tensor, gram: Tensor) -> Tensor:
        """log sqrt(det G^-1(z)) = sum log diag chol(G^-1(z)), (B,)."""
        m = self.metric
        inverse = rhvae_inverse_metric_from_gram(z, m.centroids, gram, m.temperature, m.lam, m.chunk_elements)
        return torch.log(torch.diagonal(torch.linalg.cholesky(inverse), dim1=-2, dim2=-1)).sum(-1)

    def _chains(self, z: Tensor, gram: Tensor, radius: float, generator: torch.Generator | None) -> MCMCResult:
        log_target = self._log_target(z, gram)
        accepted = torch.zeros(z.shape[0], dtype=z.dtype, device=z.device)
        for _ in tqdm(range(self.n_steps), desc="random walk", disable=not self.progress, leave=False):
            v = self.proposal_std * standard_normal(tuple(z.shape), z, generator)
            z_new, _ = exponential_map(self.metric, z, v, self.n_integration_steps, self.vector_field, gram)
            log_target_new = self._log_target(z_new, gram)
            log_uniform = torch.log(uniform((z.shape[0],), z, generator))
            accept = (log_uniform < log_target_new - log_target) & (z_new.norm(dim=-1) <= radius)
            accept &= torch.isfinite(log_target_new)
            z = torch.where(accept[:, None], z_new, z)
            log_target = torch.where(accept, log_target_new, log_target)
            accepted += accept.to(z.dtype)
        return MCMCResult(z, accepted / max(self.n_steps, 1))

    @torch.no_grad()
    def run(self, n: int, generator: torch.Generator | None = None) -> MCMCResult:
        """Run n chains from random centroids; returns last states (n, d) and acceptance rates (n,)."""
        parts = []
        with torch_threads(self.num_threads):
            gram = self.metric.gram()
            radius = self.metric.compact_radius(self.radius_factor)
            for begin in range(0, n, self.batch_size):
                z0 = random_rows(self.metric.centroids, min(self.batch_size, n - begin), generator)
                parts.append(self._chains(z0, gram, radius, generator))
        return MCMCResult.concatenate(parts)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n latent codes, (n, d)."""
        return self.run(n, generator).samples
