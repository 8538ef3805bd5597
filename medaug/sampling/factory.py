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
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from medaug.config import check_keys, dataclass_keys
from medaug.models.metric.base import KernelMetric
from medaug.models.metric.geometric import GeometricMetric
from medaug.models.metric.rhvae import RHVAEMetric
from medaug.sampling.baselines import GaussianMixtureSampler, PriorSampler
from medaug.sampling.chains import ChainSampler
from medaug.sampling.geometric import GeometricHMCSampler
from medaug.sampling.hmc import RiemannianHMCSampler
from medaug.sampling.random_walk import RiemannianRandomWalk

__all__ = ["SAMPLER_NAMES", "MCMC_SAMPLERS", "SamplerError", "LatentSampler", "LatentDraw", "build_latent_sampler",
           "draw_latents"]

#: MCMC sampler name -> (class, metric class the model must carry)
_MCMC: dict[str, tuple[type[ChainSampler], type[KernelMetric]]] = {
    "rhvae_hmc": (RiemannianHMCSampler, RHVAEMetric),
    "random_walk": (RiemannianRandomWalk, RHVAEMetric),
    "geometric_hmc": (GeometricHMCSampler, GeometricMetric),
}
SAMPLER_NAMES: tuple[str, ...] = (*_MCMC, "prior", "gmm")
MCMC_SAMPLERS: frozenset[str] = frozenset(_MCMC)

_METRIC_OWNERS = {RHVAEMetric: "an RHVAE (model_type 'rhvae')", GeometricMetric: "a geometry-aware VAE (model_type 'geometric_vae')"}


class SamplerError(ValueError):
    """An unknown sampler, options it does not take, or a model it cannot sample from."""


class LatentSampler(Protocol):
    """What :func:`draw_latents` needs: n latent codes (n, d) drawn from ``generator``."""

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor: ...


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


def _mcmc_sampler(name: str, model: nn.Module, options: dict[str, Any], num_threads: int | None,
                  workers: int) -> ChainSampler:
    cls, metric_class = _MCMC[name]
    check_keys(options, dataclass_keys(cls.settings_class), f"sampler {name!r}", SamplerError)
    metric = getattr(model, "metric", None)
    if not isinstance(metric, metric_class):
        model_type = getattr(model, "model_type", type(model).__name__)
        raise SamplerError(f"sampler {name!r} needs {_METRIC_OWNERS[metric_class]}; the model is {model_type!r}")
    if metric.num_centroids == 0:
        raise SamplerError(f"sampler {name!r}: the model's metric has no centroids (fit_metric was not run)")
    return cls(metric, **{"num_threads": num_threads, "workers": workers, **options})


def build_latent_sampler(
    name: str,
    model: nn.Module,
    options: dict[str, Any] | None = None,
    training_means: Tensor | None = None,
    num_threads: int | None = 1,
    workers: int = 1,
) -> LatentSampler:
    """The sampler ``name`` for ``model``, configured with ``options``.

    Args:
        name: one of :data:`SAMPLER_NAMES`.
        model: the trained model (``latent_size``; ``metric`` for the Riemannian samplers).
        options: for the MCMC samplers, fields of their settings dataclass (e.g. ``n_steps``,
            ``step_size``); for the baselines, their keyword arguments. Unknown keys are an error.
        training_means: encoder means of the training set, (N, d); needed by ``gmm`` only.
        num_threads: torch threads while the MCMC samplers run (``None``: leave as is), unless
            ``options`` sets ``num_threads``.
        workers: processes the MCMC samplers' chain blocks run in (no effect on the samples; see
            :class:`~medaug.sampling.chains.ChainSettings`), unless ``options`` sets ``workers``.

    Returns:
        a :class:`LatentSampler` (a :class:`~medaug.sampling.chains.ChainSampler` for the MCMC
        samplers), fitted if needed.

    Raises:
        SamplerError: unknown name or option, a model without the metric the sampler needs (or
            with an empty one), ``gmm`` without training means.
    """
    if name not in SAMPLER_NAMES:
        raise SamplerError(f"unknown sampler {name!r} (known: {list(SAMPLER_NAMES)})")
    options = dict(options or {})
    if name in _MCMC:
        return _mcmc_sampler(name, model, options, num_threads, workers)
    if name == "prior":
        check_keys(options, (), "sampler 'prior'", SamplerError)
        return PriorSampler(model.latent_size)
    check_keys(options, set(inspect.signature(GaussianMixtureSampler).parameters), "sampler 'gmm'", SamplerError)
    if training_means is None or training_means.ndim != 2 or training_means.shape[0] == 0:
        raise SamplerError("sampler 'gmm' needs the training set's latent means (N, d), N >= 1")
    if training_means.shape[1] != model.latent_size:
        raise SamplerError(f"sampler 'gmm': training means have d = {training_means.shape[1]}, the model {model.latent_size}")
    return GaussianMixtureSampler(**options).fit(training_means)


@torch.no_grad()
def draw_latents(sampler: LatentSampler, n: int, generator: torch.Generator) -> LatentDraw:
    """n latent codes from ``sampler`` with every random draw taken from ``generator``.

    MCMC samplers also report per-chain acceptance rates. Latent codes are (n, d) floats, small
    whatever n (10 000 x 10 floats is 400 kB); the volumes are what must be streamed.
    """
    if int(n) <= 0:
        raise SamplerError(f"the number of samples must be positive, got {n}")
    if isinstance(sampler, ChainSampler):
        result = sampler.run(int(n), generator)
        return LatentDraw(result.samples.detach().cpu(), result.acceptance_rate.detach().cpu())
    return LatentDraw(sampler.sample(int(n), generator).detach().cpu(), None)
