"""What every latent-space MCMC sampler shares: the result record, thread control, chain starts."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator

import torch
from torch import Tensor

__all__ = ["MCMCResult", "torch_threads", "random_rows", "standard_normal", "uniform"]


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


@contextlib.contextmanager
def torch_threads(num_threads: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(num_threads)``; ``None`` leaves the setting alone.

    Small-tensor MCMC runs slower with several intra-op threads than with one on small CPUs
    (design pitfall 9), so the samplers take the thread count as a parameter.
    """
    if num_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(int(num_threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


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
