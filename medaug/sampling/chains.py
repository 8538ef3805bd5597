"""What every latent-space MCMC sampler shares: the settings, the batched-chain loop
(:class:`ChainSampler`), the result record, thread control and chain starts."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

import torch
from torch import Tensor

from medaug.models.metric import KernelMetric
from medaug.runtime import torch_threads

__all__ = ["ChainSettings", "ChainSampler", "MCMCResult", "random_rows", "standard_normal", "uniform"]


@dataclass(frozen=True)
class MCMCResult:
    """Output of a batch of independent chains.

    Attributes:
        samples: last state of each chain, (n, d).
        acceptance_rate: fraction of accepted proposals per chain, (n,).
    """

    samples: Tensor
    acceptance_rate: Tensor

    @property
    def mean_acceptance(self) -> float:
        """Acceptance rate over all chains and steps."""
        return float(self.acceptance_rate.mean()) if self.acceptance_rate.numel() else float("nan")

    @staticmethod
    def concatenate(parts: list["MCMCResult"]) -> "MCMCResult":
        return MCMCResult(
            torch.cat([p.samples for p in parts]), torch.cat([p.acceptance_rate for p in parts])
        )


def _generator_device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


def standard_normal(shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None) -> Tensor:
    """N(0, I) draws from ``generator`` (on its own device), returned with ``like``'s dtype and device."""
    draw = torch.randn(shape, generator=generator, dtype=like.dtype, device=_generator_device(generator))
    return draw.to(like.device)


def uniform(shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None) -> Tensor:
    """U[0, 1) draws from ``generator``, returned with ``like``'s dtype and device."""
    draw = torch.rand(shape, generator=generator, dtype=like.dtype, device=_generator_device(generator))
    return draw.to(like.device)


def random_rows(points: Tensor, n: int, generator: torch.Generator | None) -> Tensor:
    """n rows of ``points`` (k, d) drawn uniformly with replacement: the chains' starting centroids, (n, d)."""
    if points.shape[0] == 0:
        raise ValueError("cannot start chains: the metric has no centroids")
    index = torch.randint(points.shape[0], (n,), generator=generator, device=_generator_device(generator))
    return points[index.to(points.device)].clone()


@dataclass(frozen=True)
class ChainSettings:
    """What every batched-chain sampler takes.

    Attributes:
        n_steps: MCMC steps per chain (after any burn-in).
        radius_factor: the compact set's radius in units of max_i |c_i| (thesis: 2).
        batch_size: chains run together (bounds memory).
        num_threads: torch intra-op threads while sampling (``None``: leave as is).
        progress: show a progress bar.
    """

    n_steps: int = 300
    radius_factor: float = 2.0
    batch_size: int = 1000
    num_threads: int | None = 1
    progress: bool = False

    def __post_init__(self) -> None:
        if self.n_steps < 0 or self.batch_size <= 0 or self.radius_factor <= 0:
            raise ValueError(f"{type(self).__name__}: n_steps >= 0, batch_size > 0 and radius_factor > 0 "
                             f"are required, got {self}")


class ChainSampler:
    """Independent chains on a latent metric, run in batches of ``settings.batch_size``; each chain
    gives one sample (its last state).

    Subclasses set ``settings_class`` and implement :meth:`_chains`; :meth:`_starts` draws random
    centroids unless overridden.

    Args:
        metric: the trained model's metric.
        settings: the sampler's settings (default: ``settings_class()``).
        **options: fields of ``settings`` to override.
    """

    settings_class: ClassVar[type[ChainSettings]] = ChainSettings

    def __init__(self, metric: KernelMetric, settings: ChainSettings | None = None, **options: Any) -> None:
        self.metric = metric
        self.settings = replace(settings or self.settings_class(), **options)

    def _starts(self, n: int, generator: torch.Generator | None) -> Tensor:
        """Starting points of n chains, (n, d): centroids drawn with replacement."""
        return random_rows(self.metric.centres, n, generator)

    def _chains(self, z0: Tensor, radius: float, generator: torch.Generator | None) -> MCMCResult:
        """Run the chains started at ``z0`` (B, d) inside {|z| <= radius}."""
        raise NotImplementedError

    @torch.no_grad()
    def run(self, n: int, generator: torch.Generator | None = None) -> MCMCResult:
        """Run n chains; returns their last states (n, d) and acceptance rates (n,)."""
        settings = self.settings
        parts = []
        with torch_threads(settings.num_threads):
            radius = self.metric.compact_radius(settings.radius_factor)
            for begin in range(0, n, settings.batch_size):
                z0 = self._starts(min(settings.batch_size, n - begin), generator)
                parts.append(self._chains(z0, radius, generator))
        return MCMCResult.concatenate(parts)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n latent codes, (n, d)."""
        return self.run(n, generator).samples
