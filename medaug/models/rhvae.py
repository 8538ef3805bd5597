"""Riemannian Hamiltonian VAE (RHVAE, thesis ch. 1, sec. 1.3, algorithm 1, eq. 1.5-1.7).

Forward pass for a batch x (B, C, *S):

1. z0 = mu(x) + sigma(x) eps (reparametrised), gamma ~ N(0, G(z0)), v0 = gamma / sqrt(beta0).
2. K generalised-leapfrog steps (eq. 1.5) on the Hamiltonian

       H(z, v) = U(z) + 1/2 log((2 pi)^d det G(z)) + 1/2 v^T G^-1(z) v,
       U(z)    = -log p(x|z) - log p(z),

   each followed by the tempering v_k = (sqrt(beta_{k-1}) / sqrt(beta_k)) v'_k.
3. ELBO = log p(x|z_K) + log p(z_K) + log N(v_K; 0, G(z_K))
          - log q(z0|x) - log N(v0; 0, G(z0) / beta0) + (d/2) log beta0.

   The last term is log |det J| of the flow: leapfrog steps preserve volume and each tempering
   scales v by sqrt(beta_{k-1} / beta_k), so the product is beta0^(d/2) (beta_K = 1). The v0 term
   is the density of the tempered initial velocity, whose covariance is G(z0) / beta0.

**Tempering parameter.** :attr:`RHVAEConfig.sqrt_beta_zero` is sqrt(beta0), not beta0: the thesis
(tables 1.11, 1.14, 1.15) gives sqrt(beta0) = 0.3, algorithm 1 divides v0 by sqrt(beta0), and its
schedule is written for sqrt(beta_k):
sqrt(beta_k) = ((1 - 1/sqrt(beta0)) k^2 / K^2 + 1/sqrt(beta0))^-1. Pythae's ``beta_zero`` field
(default 0.3) is applied the same way (it divides v0 by it), so the two agree.

**Training metric.** In training mode the metric is built from the batch itself (algorithm 1:
c_i = mu(x_i), L_i = L_psi(x_i)), and it is differentiable. In eval mode the model uses its
:class:`~medaug.models.metric.RHVAEMetric` buffers, filled by :meth:`RHVAE.fit_metric` from the
whole training set with the final encoder (thesis ch. 1, sec. 1.3: the metric of the trained
model interpolates the L_psi(x_i) of every training code).

**Which gradients flow through the position updates (d z_K / d params).** Every term of the flow
is differentiated exactly by default: z0 (encoder, reparametrisation), the prior force z, the
metric terms G^-1(z) v, d/dz log det G and d/dz v^T G^-1 v (through the centroids and L: encoder
and metric network), the initial velocity (Cholesky of G^-1(z0)), the tempering, and the decoder's
force d/dz log p(x|z), which needs a double backward through the decoder at each of the K + 1
positions (about 1.8x the step cost of holding it constant). ``backprop_through_decoder_force=False``
holds that force constant in the backward pass (d z_K / d theta_decoder == 0). That is only a
small approximation while the flow barely moves z: the missing second derivative enters d z_K at
second order in the step size but d v_K (and so log N(v_K; 0, G(z_K))) at first order, so the
relative gradient error grows linearly with the step (tested); once eps * sqrt(lambda_max(G^-1 H)) is of order one, as measured on the demo
models (z moved by 3-4 units in the training flow), the gradient error reached 11-240 %, and
training with the exact gradient tripled the spread of reconstructions. The test suite bounds the
approximation's error in the small-step regime. (Pythae 0.1.2 detaches every force, metric terms
included, so there d z_K / d params is only d z0 / d params.)

**Without flow steps** (K = 0) there is no tempering: v0 ~ N(0, G(z0)), no volume change is
added, the two velocity densities cancel and the ELBO is the plain VAE bound for the sampled z0.

**Cost.** The decoder and its z-gradient are evaluated once per position (K + 1 times); the
fixed-point iterations of the implicit half-steps iterate only the metric terms, which are closed
form and cheap in d = 10 (the generalised leapfrog of Girolami and Calderhead 2011, eq. 16-18,
iterates only the implicit half-steps).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from medaug.models.metric.rhvae import (
    RHVAEMetric,
    rhvae_grad_inverse_quadratic_form,
    rhvae_inverse_metric,
    rhvae_log_det_and_grad_log_det_metric,
)
from medaug.models.networks import build_metric_network
from medaug.models.vae import LOG_2PI, VAE, ModelOutput, VAEConfig, encode_dataset, standard_normal_log_density

__all__ = [
    "RHVAEConfig",
    "RHVAE",
    "tempering_sqrt_beta",
    "generalized_leapfrog_step",
    "log_normal_from_precision_cholesky",
    "sample_velocity",
]


@dataclass(frozen=True)
class RHVAEConfig(VAEConfig):
    """RHVAE hyper-parameters (defaults: thesis table 1.14, ADNI).

    Attributes:
        n_leapfrog: K, leapfrog steps.
        leapfrog_step_size: epsilon of eq. 1.5.
        metric_temperature: T of eq. 1.7.
        metric_lambda: lambda of eq. 1.7.
        sqrt_beta_zero: sqrt(beta0), in (0, 1] (see the module docstring).
        fixed_point_iterations: iterations of each implicit half-step (3 in the thesis).
        backprop_through_decoder_force: differentiate d/dz log p(x|z) inside the flow
            (exact gradient, double backward through the decoder); default True.
    """

    n_leapfrog: int = 3
    leapfrog_step_size: float = 1e-3
    metric_temperature: float = 1.5
    metric_lambda: float = 1e-2
    sqrt_beta_zero: float = 0.3
    fixed_point_iterations: int = 3
    backprop_through_decoder_force: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_leapfrog < 0 or self.fixed_point_iterations < 1:
            raise ValueError(f"need n_leapfrog >= 0 and fixed_point_iterations >= 1, got {self.n_leapfrog}, {self.fixed_point_iterations}")
        if not 0.0 < self.sqrt_beta_zero <= 1.0:
            raise ValueError(f"sqrt_beta_zero must be in (0, 1], got {self.sqrt_beta_zero}")
        for name in ("leapfrog_step_size", "metric_temperature", "metric_lambda"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


def tempering_sqrt_beta(step: int, n_steps: int, sqrt_beta_zero: float) -> float:
    """sqrt(beta_k) = ((1 - 1/sqrt(beta0)) k^2 / K^2 + 1/sqrt(beta0))^-1 (thesis alg. 1); 1 at k = K."""
    inverse_zero = 1.0 / sqrt_beta_zero
    return 1.0 / ((1.0 - inverse_zero) * step**2 / n_steps**2 + inverse_zero)


#: z (B, d) -> (grad U(z) (B, d), anything the caller wants back at that position).
PotentialGradient = Callable[[Tensor], tuple[Tensor, Any]]


def generalized_leapfrog_step(
    z: Tensor,
    v: Tensor,
    grad_potential: Tensor,
    potential_gradient: PotentialGradient,
    centroids: Tensor,
    cholesky: Tensor,
    temperature: float,
    lam: float,
    step_size: float,
    fixed_point_iterations: int = 3,
) -> tuple[Tensor, Tensor, Tensor, Any]:
    """One generalised leapfrog step (thesis eq. 1.5) for H(z, v) = U(z) + 1/2 log det G(z) + 1/2 v^T G^-1(z) v.

    Only the metric terms are iterated: U's gradient at the start position is given
    (``grad_potential``) and ``potential_gradient`` is called exactly once, at the new position.

        v_half = v - eps/2 [grad U(z) + 1/2 grad log det G(z) + 1/2 grad_z (v_half^T G^-1(z) v_half)]
        z_new  = z + eps/2 [G^-1(z) v_half + G^-1(z_new) v_half]
        v_new  = v_half - eps/2 [grad U(z_new) + 1/2 grad log det G(z_new) + 1/2 grad_z (v_half^T G^-1(z_new) v_half)]

    The two implicit equations get ``fixed_point_iterations`` iterations each, from the guesses
    v_half = v and z_new = z + eps G^-1(z) v_half (explicit Euler).

    Args:
        z, v: position and velocity, (B, d).
        grad_potential: grad U(z), (B, d).
        potential_gradient: z -> (grad U(z), aux); called once, at z_new.
        centroids, cholesky: the RHVAE metric, (N, d) and (N, d, d).
        temperature, lam: T and lambda of the metric.
        step_size: epsilon.
        fixed_point_iterations: iterations of each implicit equation.

    Returns:
        z_new (B, d), v_new (B, d), grad U(z_new) (B, d), aux returned by ``potential_gradient``.
    """
    half = 0.5 * step_size
    _, grad_log_det = rhvae_log_det_and_grad_log_det_metric(z, centroids, cholesky, temperature, lam)
    explicit_force = grad_potential + 0.5 * grad_log_det
    v_half = v
    for _ in range(fixed_point_iterations):
        quadratic = rhvae_grad_inverse_quadratic_form(z, v_half, centroids, cholesky, temperature)
        v_half = v - half * (explicit_force + 0.5 * quadratic)

    velocity_start = (rhvae_inverse_metric(z, centroids, cholesky, temperature, lam) @ v_half[..., None])[..., 0]
    z_new = z + step_size * velocity_start
    for _ in range(fixed_point_iterations):
        velocity_end = (rhvae_inverse_metric(z_new, centroids, cholesky, temperature, lam) @ v_half[..., None])[..., 0]
        z_new = z + half * (velocity_start + velocity_end)

    grad_potential_new, aux = potential_gradient(z_new)
    _, grad_log_det_new = rhvae_log_det_and_grad_log_det_metric(z_new, centroids, cholesky, temperature, lam)
    quadratic_new = rhvae_grad_inverse_quadratic_form(z_new, v_half, centroids, cholesky, temperature)
    v_new = v_half - half * (grad_potential_new + 0.5 * grad_log_det_new + 0.5 * quadratic_new)
    return z_new, v_new, grad_potential_new, aux


def log_normal_from_precision_cholesky(v: Tensor, precision_cholesky: Tensor, precision_scale: float = 1.0) -> Tensor:
    """log N(v; 0, Sigma) with Sigma^-1 = s C C^T (C lower-triangular, s = ``precision_scale``).

    For the velocity densities Sigma = G(z) / beta gives Sigma^-1 = beta G^-1(z) = beta C C^T,
    with C the Cholesky factor of G^-1(z). v (B, d), C (B, d, d) -> (B,).
    """
    dim = v.shape[-1]
    projected = (precision_cholesky.transpose(-1, -2) @ v[..., None])[..., 0]  # C^T v
    log_det_precision = 2.0 * torch.log(torch.diagonal(precision_cholesky, dim1=-2, dim2=-1)).sum(-1) + dim * math.log(precision_scale)
    return -0.5 * precision_scale * projected.pow(2).sum(-1) + 0.5 * log_det_precision - 0.5 * dim * LOG_2PI


def sample_velocity(precision_cholesky: Tensor) -> Tensor:
    """gamma ~ N(0, G) given C with G^-1 = C C^T: gamma = C^-T eps (covariance C^-T C^-1 = G): (B, d, d) -> (B, d)."""
    noise = torch.randn(precision_cholesky.shape[:-1], dtype=precision_cholesky.dtype, device=precision_cholesky.device)
    return torch.linalg.solve_triangular(precision_cholesky.transpose(-1, -2), noise[..., None], upper=True)[..., 0]


class RHVAE(VAE):
    """Geometry-aware VAE with a learned metric and Riemannian Hamiltonian flows (see module docstring).

    Submodules: ``encoder``, ``decoder``, ``metric_network`` (x -> L_psi(x)); ``metric`` is an
    :class:`~medaug.models.metric.RHVAEMetric` whose buffers hold the centroids and L of the
    training set (empty until :meth:`fit_metric`).

    ``forward(x)`` terms (each (B,)): ``reconstruction`` log p(x|z_K), ``log_prior`` log p(z_K),
    ``log_velocity_final`` log N(v_K; 0, G(z_K)), ``log_posterior`` log q(z0|x),
    ``log_velocity_initial`` log N(v0; 0, G(z0)/beta0), ``log_flow_jacobian`` (d/2) log beta0;
    ELBO = reconstruction + log_prior + log_velocity_final - log_posterior - log_velocity_initial
    + log_flow_jacobian.
    """

    model_type = "rhvae"
    config_class = RHVAEConfig

    def __init__(self, config: RHVAEConfig | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        self.metric_network = build_metric_network(cfg.network)
        self.metric = RHVAEMetric.empty(cfg.network.latent_size, cfg.metric_temperature, cfg.metric_lambda)

    def _potential_gradient(self, x: Tensor) -> PotentialGradient:
        """z -> (grad U(z), (log p(x|z), E[x|z])) with U = -log p(x|z) - log p(z); one decoder pass.

        log p(x|z) is the model's likelihood (Gaussian, or Bernoulli from the logits) through
        :meth:`~medaug.models.vae.VAE.reconstruction_log_likelihood`.
        """
        exact = self.config.backprop_through_decoder_force

        def potential_gradient(z: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
            differentiable = exact and torch.is_grad_enabled()  # no second-order graph under no_grad
            with torch.enable_grad():
                z_in = z if z.requires_grad else z.detach().requires_grad_(True)
                output = self.decoder_output(z_in)
                log_likelihood = self.reconstruction_log_likelihood(x, output)
                (grad_log_likelihood,) = torch.autograd.grad(
                    log_likelihood.sum(), z_in, create_graph=differentiable, retain_graph=True
                )
                reconstruction = self.output_mean(output)
            # -grad log p(z) = z is closed form and kept differentiable.
            return z - grad_log_likelihood, (log_likelihood, reconstruction)

        return potential_gradient

    def _metric_parameters(self, x: Tensor, mean: Tensor) -> tuple[Tensor, Tensor]:
        """(centroids, L): the batch's own (training, alg. 1) or the stored training-set ones (eval)."""
        if self.training:
            return mean, self.metric_network(x)
        return self.metric.centroids, self.metric.cholesky

    def forward(self, x: Tensor) -> ModelOutput:
        cfg = self.config
        mean, log_var = self.encode(x)
        centroids, cholesky = self._metric_parameters(x, mean)
        temperature, lam = cfg.metric_temperature, cfg.metric_lambda

        noise = torch.randn_like(mean)
        z0 = mean + torch.exp(0.5 * log_var) * noise
        precision_cholesky0 = torch.linalg.cholesky(rhvae_inverse_metric(z0, centroids, cholesky, temperature, lam))
        # Without flow steps there is no tempering: v0 ~ N(0, G(z0)) and no volume change (beta0 = 1).
        sqrt_beta_zero = cfg.sqrt_beta_zero if cfg.n_leapfrog > 0 else 1.0
        v0 = sample_velocity(precision_cholesky0) / sqrt_beta_zero

        potential_gradient = self._potential_gradient(x)
        grad_potential, (log_likelihood, reconstruction) = potential_gradient(z0)
        z, v = z0, v0
        sqrt_beta_previous = sqrt_beta_zero
        for step in range(1, cfg.n_leapfrog + 1):
            z, v, grad_potential, (log_likelihood, reconstruction) = generalized_leapfrog_step(
                z, v, grad_potential, potential_gradient, centroids, cholesky, temperature, lam,
                cfg.leapfrog_step_size, cfg.fixed_point_iterations,
            )
            sqrt_beta = tempering_sqrt_beta(step, cfg.n_leapfrog, cfg.sqrt_beta_zero)
            v = (sqrt_beta_previous / sqrt_beta) * v
            sqrt_beta_previous = sqrt_beta

        dim = mean.shape[-1]
        precision_cholesky_final = torch.linalg.cholesky(rhvae_inverse_metric(z, centroids, cholesky, temperature, lam))
        beta_zero = sqrt_beta_zero**2
        terms = {
            "reconstruction": log_likelihood,
            "log_prior": standard_normal_log_density(z),
            "log_velocity_final": log_normal_from_precision_cholesky(v, precision_cholesky_final),
            "log_posterior": standard_normal_log_density(noise) - 0.5 * log_var.sum(-1),
            "log_velocity_initial": log_normal_from_precision_cholesky(v0, precision_cholesky0, beta_zero),
            "log_flow_jacobian": torch.full_like(log_likelihood, 0.5 * dim * math.log(beta_zero)),
        }
        elbo = (
            terms["reconstruction"] + terms["log_prior"] + terms["log_velocity_final"]
            - terms["log_posterior"] - terms["log_velocity_initial"] + terms["log_flow_jacobian"]
        )
        return ModelOutput(loss=-elbo.mean(), elbo=elbo, terms=terms, z=z, reconstruction=reconstruction)

    def fit_metric(self, data: Tensor, batch_size: int = 25) -> None:
        """Recompute the centroids (encoder means) and L (metric network) over the whole of ``data``.

        Call it with the final (best) weights and the whole training set, not one batch's codes.
        data: (N, C, *S).
        """
        means, _, cholesky = encode_dataset(self, data, batch_size, with_metric_network=True)
        self.metric.set_centroids(means, cholesky)
