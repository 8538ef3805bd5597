"""Riemannian random walk of the thesis (ch. 2, alg. 2-3) on an RHVAE metric.

Exponential map (alg. 2): integrate the geodesic Hamiltonian H(p, q) = 1/2 q^T G^-1(p) q from
p(0) = z, q(0) = G(z) v over t in [0, 1] with the explicit midpoint rule (RK2):

    dp/dt = dH/dq = G^-1(p) q
    dq/dt = -dH/dp = -1/2 d/dp (q^T G^-1(p) q)

(the thesis' reference implementation has the sign of dq/dt wrong; with it a geodesic of a constant
metric would still be a line, but H drifts). Since dp/dt(0) = v, Exp_z(v) = z + v + O(|v|^2).

Random walk (alg. 3): v ~ N(0, s^2 I), z' = Exp_z(v), accepted with probability
min(1, sqrt(det G^-1(z')) / sqrt(det G^-1(z))) and only inside {|z| <= 2 max_i |c_i|}. The proposal is
symmetric only to first order in s (thesis remark 3): the chain's law approaches the target as s -> 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import torch
from torch import Tensor
from tqdm.auto import tqdm

from medaug.models.metric.rhvae import RHVAEMetric
from medaug.sampling.chains import ChainSampler, ChainSettings, MCMCResult, StepDraws

__all__ = [
    "GeodesicField",
    "geodesic_vector_field",
    "geodesic_hamiltonian",
    "exponential_map",
    "RandomWalkSettings",
    "RiemannianRandomWalk",
]

#: (metric, p (B, d), q (B, d)) -> (dp/dt (B, d), dq/dt (B, d))
GeodesicField = Callable[[RHVAEMetric, Tensor, Tensor], tuple[Tensor, Tensor]]


def geodesic_vector_field(metric: RHVAEMetric, p: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
    """Hamilton's equations of H(p, q) = 1/2 q^T G^-1(p) q: returns (G^-1(p) q, -dH/dp), each (B, d)."""
    dp = (metric.inverse(p) @ q[:, :, None])[:, :, 0]
    dq = -0.5 * metric.grad_inverse_quadratic_form(p, q)
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
) -> tuple[Tensor, Tensor]:
    """Exp_z(v) by ``n_steps`` RK2 (midpoint) steps of size 1 / n_steps (thesis ch. 2, alg. 2).

    Args:
        metric: the RHVAE metric.
        z: base points, (B, d).
        v: tangent vectors at z (velocities, in latent coordinates), (B, d).
        n_steps: integration steps over t in [0, 1].
        vector_field: Hamilton's equations (replaceable for tests).

    Returns:
        (end points p(1) (B, d), end momenta q(1) (B, d)).
    """
    q = torch.cholesky_solve(v[:, :, None], torch.linalg.cholesky(metric.inverse(z)))[:, :, 0]  # q0 = G(z) v
    p = z
    dt = 1.0 / n_steps
    for _ in range(n_steps):
        dp, dq = vector_field(metric, p, q)
        dp, dq = vector_field(metric, p + 0.5 * dt * dp, q + 0.5 * dt * dq)
        p = p + dt * dp
        q = q + dt * dq
    return p, q


@dataclass(frozen=True)
class RandomWalkSettings(ChainSettings):
    """Settings of the random walk (besides :class:`~medaug.sampling.chains.ChainSettings`').

    Attributes:
        n_steps: random-walk steps per chain (thesis: 200).
        proposal_std: s (the thesis gives no value; small s = nearly symmetric proposals).
        n_integration_steps: RK2 steps of the exponential map.
    """

    n_steps: int = 200
    proposal_std: float = 0.1
    n_integration_steps: int = 10


class RiemannianRandomWalk(ChainSampler):
    """Metropolis random walk with wrapped-normal proposals Exp_z(v), v ~ N(0, s^2 I) (thesis ch. 2, alg. 3).

    Args:
        metric: the RHVAE metric.
        settings: :class:`RandomWalkSettings`.
        vector_field: Hamilton's equations of the exponential map (replaceable for tests).
        **options: fields of ``settings`` to override.
    """

    settings_class: ClassVar[type[ChainSettings]] = RandomWalkSettings
    settings: RandomWalkSettings
    metric: RHVAEMetric

    def __init__(self, metric: RHVAEMetric, settings: RandomWalkSettings | None = None, *,
                 vector_field: GeodesicField = geodesic_vector_field, **options: Any) -> None:
        super().__init__(metric, settings, **options)
        self.vector_field = vector_field

    def _log_target(self, z: Tensor) -> Tensor:
        """log sqrt(det G^-1(z)) = sum log diag chol(G^-1(z)), (B,)."""
        return torch.log(torch.diagonal(torch.linalg.cholesky(self.metric.inverse(z)), dim1=-2, dim2=-1)).sum(-1)

    def _chains(self, z: Tensor, radius: float, generator: torch.Generator | None) -> MCMCResult:
        s = self.settings
        log_target = self._log_target(z)
        accepted = torch.zeros(z.shape[0], dtype=z.dtype, device=z.device)
        draws = StepDraws(z.shape[0], z.shape[1], z, generator)  # same numbers, no per-step host copy
        for _ in tqdm(range(s.n_steps), desc="random walk", disable=not s.progress, leave=False):
            noise, uniforms = draws.next()
            v = s.proposal_std * noise
            z_new, _ = exponential_map(self.metric, z, v, s.n_integration_steps, self.vector_field)
            log_target_new = self._log_target(z_new)
            log_uniform = torch.log(uniforms)
            accept = (log_uniform < log_target_new - log_target) & (z_new.norm(dim=-1) <= radius)
            accept &= torch.isfinite(log_target_new)
            z = torch.where(accept[:, None], z_new, z)
            log_target = torch.where(accept, log_target_new, log_target)
            accepted += accept.to(z.dtype)
        return MCMCResult(z, accepted / max(s.n_steps, 1))
