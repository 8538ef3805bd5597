"""Latent samplers chosen by name for a trained model, and the seeded draw of n latent codes.

Names and the models they need:

==================  =====================================  ==========================================
name                sampler                                model
==================  =====================================  ==========================================
``rhvae_hmc``       HMC on sqrt(det G^-1) (thesis ch. 1)   RHVAE with a fitted metric
``random_walk``     Riemannian random walk (thesis ch. 2)  RHVAE with a fitted metric
``geometric_hmc``   HMC on sqrt(det G) (thesis ch. 3)      geometry-aware VAE with a fitted metric
``prior``           N(0, I)                                any
``gmm``             Gaussian mixture on training means     any (needs the training latent means)
==================  =====================================  ==========================================
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from medaug.models.metric import GeometricMetric, RHVAEMetric
from medaug.sampling.baselines import GaussianMixtureSampler, PriorSampler
from medaug.sampling.chains import MCMCResult
from medaug.sampling.geometric import GeometricHMCSampler
from medaug.sampling.hmc import RiemannianHMCSampler
from medaug.sampling.random_walk import RiemannianRandomWalk

__all__ = ["SAMPLER_NAMES", "MCMC_SAMPLERS", "SamplerError", "LatentDraw", "build_latent_sampler", "draw_latents"]

#: sampler name -> (class, metric class the model must carry, or None for any model)
_SAMPLERS: dict[str, tuple[type, type | None]] = {
    "rhvae_hmc": (RiemannianHMCSampler, RHVAEMetric),
    "random_walk": (RiemannianRandomWalk, RHVAEMetric),
    "geometric_hmc": (GeometricHMCSampler, GeometricMetric),
    "prior": (PriorSampler, None),
    "gmm": (GaussianMixtureSampler, None),
}
SAMPLER_NAMES: tuple[str, ...] = tuple(_SAMPLERS)
MCMC_SAMPLERS: frozenset[str] = frozenset({"rhvae_hmc", "random_walk", "geometric_hmc"})

_METRIC_OWNERS = {RHVAEMetric: "an RHVAE (model_type 'rhvae')", GeometricMetric: "a geometry-aware VAE (model_type 'geometric_vae')"}


class SamplerError(ValueError):
    """An unknown sampler, options it does not take, or a model it cannot sample from."""


@dataclass(frozen=True)
class LatentDraw:
    """n latent codes and, for MCMC samplers, the acceptance rate of the chain that gave each.

    Attributes:
        latents: (n, d), on CPU.
        acceptance_rate: (n,) per-chain acceptance rates, or None for direct samplers.
    """

    latents: Tensor
    acceptance_rate: Tensor | None

    @property
    def mean_acceptance(self) -> float | None:
        """Acceptance over all chains and steps, or None for direct samplers."""
        if self.acceptance_rate is None or self.acceptance_rate.numel() == 0:
            return None
        return float(self.acceptance_rate.mean())


def _check_options(cls: type, options: dict[str, Any], name: str, reserved: set[str]) -> None:
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"} - reserved
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise SamplerError(f"sampler {name!r}: unknown option(s) {unknown} (accepted: {sorted(accepted)})")


def build_latent_sampler(
    name: str,
    model: nn.Module,
    options: dict[str, Any] | None = None,
    training_means: Tensor | None = None,
    num_threads: int | None = 1,
) -> Any:
    """The sampler ``name`` for ``model``, configured with ``options`` (the sampler's keyword arguments).

    Args:
        name: one of :data:`SAMPLER_NAMES`.
        model: the trained model (``latent_size``; ``metric`` for the Riemannian samplers).
        options: keyword arguments of the sampler class (e.g. ``n_steps``, ``step_size``); unknown
            keys are an error.
        training_means: encoder means of the training set, (N, d); needed by ``gmm`` only.
        num_threads: torch threads while the MCMC samplers run (``None``: leave as is).

    Returns:
        an object with ``sample(n, generator)`` (and ``run`` for MCMC samplers), fitted if needed.

    Raises:
        SamplerError: unknown name or option, a model without the metric the sampler needs (or
            with an empty one), ``gmm`` without training means.
    """
    if name not in _SAMPLERS:
        raise SamplerError(f"unknown sampler {name!r} (known: {list(SAMPLER_NAMES)})")
    options = dict(options or {})
    cls, metric_class = _SAMPLERS[name]
    if metric_class is not None:
        _check_options(cls, options, name, {"metric"})
        metric = getattr(model, "metric", None)
        if not isinstance(metric, metric_class):
            model_type = getattr(model, "model_type", type(model).__name__)
            raise SamplerError(f"sampler {name!r} needs {_METRIC_OWNERS[metric_class]}; the model is {model_type!r}")
        if metric.num_centroids == 0:
            raise SamplerError(f"sampler {name!r}: the model's metric has no centroids (fit_metric was not run)")
        options.setdefault("num_threads", num_threads)
        return cls(metric, **options)
    if name == "prior":
        _check_options(cls, options, name, {"latent_dim"})
        return cls(model.latent_size, **options)
    _check_options(cls, options, name, set())
    if training_means is None or training_means.ndim != 2 or training_means.shape[0] == 0:
        raise SamplerError("sampler 'gmm' needs the training set's latent means (N, d), N >= 1")
    if training_means.shape[1] != model.latent_size:
        raise SamplerError(f"sampler 'gmm': training means have d = {training_means.shape[1]}, the model {model.latent_size}")
    return cls(**options).fit(training_means)


@torch.no_grad()
def draw_latents(sampler: Any, n: int, generator: torch.Generator) -> LatentDraw:
    """n latent codes from ``sampler`` with every random draw taken from ``generator``.

    MCMC samplers (those with ``run``) also report per-chain acceptance rates. Latent codes are
    (n, d) floats, small whatever n (10 000 x 10 floats is 400 kB); the volumes are what must be
    streamed.
    """
    if int(n) <= 0:
        raise SamplerError(f"the number of samples must be positive, got {n}")
    run = getattr(sampler, "run", None)
    if callable(run):
        result: MCMCResult = run(int(n), generator)
        return LatentDraw(result.samples.detach().cpu(), result.acceptance_rate.detach().cpu())
    return LatentDraw(sampler.sample(int(n), generator).detach().cpu(), None)
