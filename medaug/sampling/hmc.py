"""Hamiltonian Monte Carlo with identity mass, and the RHVAE sampler of the thesis (ch. 1, app. 1.8.2).

The RHVAE sampler targets p(z) proportional to 1_S(z) sqrt(det G^-1(z)) with
S = {|z| <= 2 max_i |c_i|} (thesis app. 1.8.2; without S the target is improper, since
det G^-1(z) tends to lam^d far from the centroids):

    H(z, v) = -1/2 log det G^-1(z) + 1/2 |v|^2 = 1/2 log det G(z) + 1/2 |v|^2
    leapfrog:  v <- v - eps/2 grad U(z);  z <- z + eps v;  v <- v - eps/2 grad U(z)
    accept with probability min(1, exp(H0 - H)), computed in log space (exp(H0 - H) overflows).

The trajectory may leave S; only the end point is tested, which keeps the chain exact because the
leapfrog map stays reversible and volume-preserving. The reference sampler's momentum tempering is
left out: it breaks volume preservation, and it is the identity at its default beta0 = 1 anyway.

Step size: the thesis uses a fixed eps in [0.01, 0.05], tuned to its latent spaces. A trained
model's latent scale is not known in advance (a step that suits one model accepts nothing on
another), so :func:`hmc_chains` can first adapt each chain's step during ``adapt_steps`` burn-in
iterations (Robbins-Monro on log eps towards ``target_acceptance``), then freeze it. The kernel is
fixed after burn-in, so the chains stay exact; the acceptance rate is measured after burn-in only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar

import torch
from torch import Tensor
from tqdm.auto import tqdm

from medaug.models.metric.rhvae import RHVAEMetric
from medaug.sampling.chains import ChainSampler, ChainSettings, MCMCResult, StepDraws

__all__ = ["LogProbAndGrad", "Support", "leapfrog", "hmc_chains", "HMCSettings", "HMCSampler", "RiemannianHMCSettings", "RiemannianHMCSampler"]

#: z (B, d) -> (log p(z) up to a constant (B,), d/dz log p(z) (B, d))
LogProbAndGrad = Callable[[Tensor], tuple[Tensor, Tensor]]

#: z (B, d) -> (B,) bool, where the target is defined, or None: no restriction at these points
Support = Callable[[Tensor], Tensor | None]


def leapfrog(
    z: Tensor,
    velocity: Tensor,
    grad_log_prob: Tensor,
    log_prob_and_grad: LogProbAndGrad,
    step_size: float | Tensor,
    n_leapfrog: int,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``n_leapfrog`` leapfrog steps for H = -log p(z) + 1/2 |v|^2 (identity mass).

    Args:
        z: positions, (B, d).
        velocity: momenta, (B, d).
        grad_log_prob: d/dz log p at ``z``, (B, d) (carried over so each step costs one evaluation).
        log_prob_and_grad: the target, see :data:`LogProbAndGrad`.
        step_size: eps, a float or one per chain (B, 1).
        n_leapfrog: number of steps.

    Returns:
        (z, v, log p(z), d/dz log p(z)) at the end of the trajectory.
    """
    log_prob = None
    for _ in range(n_leapfrog):
        velocity = velocity + 0.5 * step_size * grad_log_prob
        z = z + step_size * velocity
        log_prob, grad_log_prob = log_prob_and_grad(z)
        velocity = velocity + 0.5 * step_size * grad_log_prob
    if log_prob is None:
        log_prob, grad_log_prob = log_prob_and_grad(z)
    return z, velocity, log_prob, grad_log_prob


def hmc_chains(
    log_prob_and_grad: LogProbAndGrad,
    z0: Tensor,
    n_steps: int,
    n_leapfrog: int,
    step_size: float,
    generator: torch.Generator | None = None,
    radius: float | None = None,
    progress: bool = False,
    adapt_steps: int = 0,
    target_acceptance: float = 0.65,
    prefetch_draws: bool | None = None,
    support: Support | None = None,
) -> MCMCResult:
    """Independent HMC chains run as one batch on ``z0``'s device.

    All B chains are one (B, d) tensor; the loop is over MCMC steps and leapfrog steps only. The
    acceptance counts stay on the device and nothing is read back to the host inside the loop (no
    ``.item()``, no data-dependent branch), so a GPU run queues its kernels without waiting.

    Args:
        log_prob_and_grad: the (unnormalised) target and its gradient.
        z0: starting points, one per chain, (B, d).
        n_steps: MCMC steps (one momentum draw, one trajectory, one accept/reject each).
        n_leapfrog: leapfrog steps per trajectory.
        step_size: leapfrog step eps.
        generator: source of every random draw (momenta and acceptance uniforms).
        radius: if given, the target is restricted to {|z| <= radius}: proposals outside are rejected.
        progress: show a progress bar.
        adapt_steps: burn-in iterations that adapt each chain's step size before the ``n_steps``
            counted ones (0: the fixed ``step_size`` throughout, as in the thesis).
        target_acceptance: acceptance probability the adaptation aims at.
        prefetch_draws: see :class:`~medaug.sampling.chains.StepDraws` (``None``: prefetch when the
            generator is on another device than the chains); the numbers drawn are the same.
        support: if given, ``support(z)`` (B, d) -> (B,) bool marks the points where the target is
            defined; proposals outside are rejected (the chains must start inside). It may return
            None: no restriction (the same for every z, so no data-dependent branch).

    Returns:
        :class:`MCMCResult` with the last states (B, d) and per-chain acceptance rates (B,) over
        the ``n_steps`` iterations after burn-in.
    """
    # numerical kernel: one HMC step's energy, accept/reject and step adaptation read best in one loop
    z = z0
    log_prob, grad = log_prob_and_grad(z)
    accepted = torch.zeros(z.shape[0], dtype=z.dtype, device=z.device)
    log_step = torch.full((z.shape[0], 1), float(torch.log(torch.tensor(step_size))), dtype=z.dtype, device=z.device)
    draws = StepDraws(z.shape[0], z.shape[1], z, generator, prefetch=prefetch_draws)
    for iteration in tqdm(range(adapt_steps + n_steps), desc="HMC", disable=not progress, leave=False):
        velocity, uniforms = draws.next()
        energy0 = -log_prob + 0.5 * (velocity * velocity).sum(-1)
        z_new, v_new, log_prob_new, grad_new = leapfrog(
            z, velocity, grad, log_prob_and_grad, log_step.exp() if adapt_steps else step_size, n_leapfrog
        )
        energy = -log_prob_new + 0.5 * (v_new * v_new).sum(-1)
        inside = torch.isfinite(energy)
        if radius is not None:
            inside &= z_new.norm(dim=-1) <= radius
        restricted = support(z_new) if support is not None else None
        if restricted is not None:
            inside &= restricted
        log_ratio = torch.where(inside, energy0 - energy, torch.full_like(energy, -torch.inf))
        accept = torch.log(uniforms) < log_ratio
        z = torch.where(accept[:, None], z_new, z)
        log_prob = torch.where(accept, log_prob_new, log_prob)
        grad = torch.where(accept[:, None], grad_new, grad)
        if iteration < adapt_steps:
            # Robbins-Monro: a decreasing gain, so the step settles before it is frozen.
            probability = log_ratio.clamp(max=0.0).exp()
            log_step += (probability - target_acceptance)[:, None] / (iteration + 1) ** 0.6
        else:
            accepted += accept.to(z.dtype)
    return MCMCResult(z, accepted / max(n_steps, 1))


@dataclass(frozen=True)
class HMCSettings(ChainSettings):
    """Settings of the HMC samplers; the defaults are the thesis' RHVAE sampler (ch. 1, app. 1.8.2).

    Attributes (besides :class:`~medaug.sampling.chains.ChainSettings`'):
        n_leapfrog: leapfrog steps per trajectory (thesis: 15).
        step_size: leapfrog step eps (thesis: 0.01-0.05).
        adapt_steps: burn-in iterations adapting each chain's step size (0: the thesis' fixed step).
        target_acceptance: acceptance probability the burn-in adaptation aims at.
    """

    n_steps: int = 300
    n_leapfrog: int = 15
    step_size: float = 0.03
    adapt_steps: int = 0
    target_acceptance: float = 0.65


class HMCSampler(ChainSampler):
    """HMC chains on a target given by :meth:`log_prob_and_grad` (see :func:`hmc_chains`)."""

    settings_class: ClassVar[type[ChainSettings]] = HMCSettings
    settings: HMCSettings

    def log_prob_and_grad(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """log p(z) up to a constant and its gradient: (B, d) -> ((B,), (B, d))."""
        raise NotImplementedError

    def support(self, z: Tensor) -> Tensor | None:
        """(B, d) -> (B,) bool: where the target is defined beyond the ball; None: the whole ball."""
        return None

    def _chains(self, z0: Tensor, radius: float, generator: torch.Generator | None) -> MCMCResult:
        s = self.settings
        return hmc_chains(self.log_prob_and_grad, z0, s.n_steps, s.n_leapfrog, s.step_size, generator, radius,
                          s.progress, s.adapt_steps, s.target_acceptance, support=self.support)


@dataclass(frozen=True)
class RiemannianHMCSettings(HMCSettings):
    """:class:`HMCSettings` plus where the RHVAE sampler's target is defined.

    Attributes:
        support_temperatures: the target is restricted to codes within this many metric
            temperatures T of some training code (None: the ball of ``radius_factor`` only, as in
            the thesis). See :meth:`RiemannianHMCSampler.support`.
    """

    support_temperatures: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.support_temperatures is not None and not self.support_temperatures > 0:
            raise ValueError(f"support_temperatures must be positive or null, got {self.support_temperatures}")


class RiemannianHMCSampler(HMCSampler):
    """HMC on p(z) proportional to sqrt(det G^-1(z)) on {|z| <= radius_factor max_i |c_i|} (thesis ch. 1).

    Args:
        metric: the trained model's :class:`~medaug.models.metric.RHVAEMetric`.
        settings: :class:`HMCSettings` (thesis: 300 steps of 15 leapfrog steps of 0.01-0.05).
        **options: fields of ``settings`` to override.
    """

    settings_class: ClassVar[type[ChainSettings]] = RiemannianHMCSettings
    settings: RiemannianHMCSettings
    metric: RHVAEMetric

    def support(self, z: Tensor) -> Tensor | None:
        """Codes within ``support_temperatures`` T of a training code: (B, d) -> (B,) bool, or None
        (no restriction beyond the ball) when ``support_temperatures`` is None.

        Beyond a few T from every centroid the kernel weights vanish, G^-1(z) = lambda I, and the
        target is a flat plateau of height lambda^(d/2): with d = 10 and a ball of radius
        2 max_i |c_i|, that plateau holds as much mass as the region near the training codes, and a
        chain that strays onto it (where every proposal is accepted, and the burn-in then grows its
        step) decodes a code the decoder never saw. Restricting the target to where the metric
        carries information keeps the thesis' density there and removes the plateau.
        """
        factor = self.settings.support_temperatures
        if factor is None:
            return None
        nearest = torch.cdist(z, self.metric.centroids.to(z)).min(dim=1).values
        return nearest <= float(factor) * self.metric.temperature

    def log_prob_and_grad(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """log sqrt(det G^-1(z)) = -1/2 log det G(z) and its gradient: (B, d) -> ((B,), (B, d))."""
        log_det, grad = self.metric.log_det_and_grad_log_det_metric(z)
        return -0.5 * log_det, -0.5 * grad
