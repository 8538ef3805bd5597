"""What every latent-space MCMC sampler shares: the settings, the batched-chain loop
(:class:`ChainSampler`), the result record, thread control, chain starts, the device the chains run on
and the stream of per-step random draws (:class:`StepDraws`)."""

from __future__ import annotations

import copy
import multiprocessing
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import torch
from torch import Tensor

from medaug.models.metric.base import KernelMetric
from medaug.runtime import resolve_device, torch_threads

__all__ = ["ChainSettings", "ChainSampler", "MCMCResult", "StepDraws", "block_sizes", "random_rows", "sampling_device",
           "standard_normal", "uniform"]


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


class StepDraws:
    """The per-step random draws of a batch of chains: N(0, I) momenta (B, d), then U[0, 1) (B,).

    Every step draws ``randn((B, d))`` then ``rand((B,))`` from ``generator``, in that order, so the
    numbers are the same whichever way they reach the chains' device:

    - generator and chains on the same device: drawn step by step (the CPU path of the thesis runs);
    - otherwise (a CPU generator feeding CUDA chains): ``block`` steps are drawn at once on the
      generator's device, into pinned memory when CUDA is available, and copied with
      ``non_blocking=True``. A step-by-step copy from pageable memory would block the host until
      the GPU queue drains, i.e. one host synchronisation per MCMC step.

    Args:
        n_chains: B.
        dim: d.
        like: a tensor with the chains' dtype and device.
        generator: the source of every draw (``None``: torch's default CPU generator).
        block: steps drawn per batch in the second case (memory: block x B x (d + 1) floats).
        prefetch: force the second case even on one device (used by the tests to check that both
            give the same numbers).
    """

    def __init__(self, n_chains: int, dim: int, like: Tensor, generator: torch.Generator | None,
                 block: int = 64, prefetch: bool | None = None) -> None:
        self.n_chains, self.dim, self.like, self.generator = int(n_chains), int(dim), like, generator
        source = _generator_device(generator)
        self.prefetch = (source != like.device) if prefetch is None else bool(prefetch)
        self.block = max(1, int(block))
        self._velocities: list[Tensor] = []
        self._uniforms: list[Tensor] = []

    def _refill(self) -> None:
        source, dtype, shape = _generator_device(self.generator), self.like.dtype, (self.n_chains, self.dim)
        pin = self.like.device.type == "cuda" and source.type == "cpu" and torch.cuda.is_available()
        velocity = torch.empty((self.block, *shape), dtype=dtype, pin_memory=pin)
        uniforms = torch.empty((self.block, self.n_chains), dtype=dtype, pin_memory=pin)
        for step in range(self.block):
            velocity[step] = torch.randn(shape, generator=self.generator, dtype=dtype, device=source)
            uniforms[step] = torch.rand((self.n_chains,), generator=self.generator, dtype=dtype, device=source)
        non_blocking = pin
        self._velocities = list(velocity.to(self.like.device, non_blocking=non_blocking).unbind(0))[::-1]
        self._uniforms = list(uniforms.to(self.like.device, non_blocking=non_blocking).unbind(0))[::-1]

    def next(self) -> tuple[Tensor, Tensor]:
        """The next step's (momenta (B, d), uniforms (B,)) on ``like``'s device."""
        if not self.prefetch:
            velocity = standard_normal((self.n_chains, self.dim), self.like, self.generator)
            return velocity, uniform((self.n_chains,), self.like, self.generator)
        if not self._velocities:
            self._refill()
        return self._velocities.pop(), self._uniforms.pop()


def block_sizes(n: int, blocks: int) -> list[int]:
    """Sizes of ``blocks`` blocks of consecutive chains out of n, as equal as possible, empty ones
    dropped: ``block_sizes(200, 3) == [67, 67, 66]``."""
    base, extra = divmod(int(n), int(blocks))
    return [size for size in (base + (i < extra) for i in range(int(blocks))) if size > 0]


@torch.no_grad()
def _run_block(sampler: "ChainSampler", n: int, seed: int) -> MCMCResult:
    """One block of chains of :meth:`ChainSampler.run`: n chains from a CPU generator seeded with ``seed``.

    Module-level, so that a worker process can run it. Results come back on the CPU.
    """
    result = sampler._run_chains(n, torch.Generator().manual_seed(int(seed)))
    return MCMCResult(result.samples.cpu(), result.acceptance_rate.cpu())


def sampling_device(name: str | None, fallback: torch.device) -> torch.device:
    """The device the chains run on: ``None`` -> ``fallback`` (the metric's); ``"auto"`` -> CUDA when
    available; a CUDA device asked for on a machine without CUDA falls back to the CPU with a warning
    (CI has no GPU)."""
    if name is None:
        return fallback
    device = resolve_device(str(name))
    if device.type == "cuda" and not torch.cuda.is_available():
        warnings.warn(f"sampler device {name!r}: CUDA is not available, the chains run on the CPU", stacklevel=3)
        return torch.device("cpu")
    return device


@dataclass(frozen=True)
class ChainSettings:
    """What every batched-chain sampler takes.

    Attributes:
        n_steps: MCMC steps per chain (after any burn-in).
        radius_factor: the compact set's radius in units of max_i |c_i| (thesis: 2).
        batch_size: chains run together (bounds memory).
        num_threads: torch intra-op threads while sampling (``None``: leave as is).
        progress: show a progress bar.
        device: where the chains run (``None``: the metric's device; ``"auto"``: CUDA when available;
            ``"cuda"`` falls back to the CPU without CUDA). The metric is copied there for the run;
            random draws still come from the caller's generator, so a CPU generator gives the same
            numbers on either device (up to floating-point reduction order).
        chunk_elements: overrides the metric's ``chunk_elements`` for the run (``None``: keep it).
            The default bound (2**22) cuts 1000 centroids into 25 chunks for 1000 chains, and into
            250 for 10 000: on a GPU each chunk is a handful of kernel launches per leapfrog step,
            so a GPU run wants one chunk (e.g. 2**31). Changing it changes the order of the sums.
        chain_blocks: the n chains are cut into this many blocks of consecutive chains, each drawing
            from its own generator, seeded by one draw of the caller's generator per block. Part of
            the sampling recipe (2 blocks give other samples than 1); 1: every draw from the
            caller's generator, as in the thesis' code.
        workers: processes the blocks run in at once, on the CPU (each with ``num_threads``
            threads). No effect on the samples: a block's chains see the same numbers in any
            worker. On a 2-core machine 2 workers of 1 thread run 2 blocks in about half the time
            of 1 process, where a second intra-op thread gains nothing on the batched 50 x 50
            Cholesky factorisations of the RHVAE metric.
    """

    n_steps: int = 300
    radius_factor: float = 2.0
    batch_size: int = 1000
    num_threads: int | None = 1
    progress: bool = False
    device: str | None = None
    chunk_elements: int | None = None
    chain_blocks: int = 1
    workers: int = 1

    def __post_init__(self) -> None:
        if self.n_steps < 0 or self.batch_size <= 0 or self.radius_factor <= 0:
            raise ValueError(f"{type(self).__name__}: n_steps >= 0, batch_size > 0 and radius_factor > 0 "
                             f"are required, got {self}")
        if self.chain_blocks < 1 or self.workers < 1:
            raise ValueError(f"{type(self).__name__}: chain_blocks >= 1 and workers >= 1 are required, got {self}")


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

    def _on_device(self) -> "ChainSampler":
        """This sampler, or a shallow copy of it holding a copy of the metric moved to
        ``settings.device`` and carrying ``settings.chunk_elements`` (the model's metric is untouched)."""
        settings = self.settings
        device = sampling_device(settings.device, self.metric.centres.device)
        if device == self.metric.centres.device and settings.chunk_elements is None:
            return self
        runner = copy.copy(self)
        runner.metric = copy.deepcopy(self.metric).to(device)
        if settings.chunk_elements is not None:
            runner.metric.chunk_elements = int(settings.chunk_elements)
        return runner

    @torch.no_grad()
    def run(self, n: int, generator: torch.Generator | None = None) -> MCMCResult:
        """Run n chains; returns their last states (n, d) and acceptance rates (n,), on the chains'
        device (see ``settings.device``). Nothing is read back to the host while the chains run.

        With ``settings.chain_blocks`` > 1 the chains run in blocks of consecutive chains, each with
        its own generator (see :class:`ChainSettings`), in ``settings.workers`` processes on the CPU.
        """
        settings = self.settings
        if settings.chain_blocks == 1:
            return self._run_chains(n, generator)
        sizes = block_sizes(n, settings.chain_blocks)
        seeds = torch.randint(2**62, (len(sizes),), generator=generator, device=_generator_device(generator)).tolist()
        device = sampling_device(settings.device, self.metric.centres.device)
        workers = min(settings.workers, len(sizes)) if device.type == "cpu" else 1
        if workers <= 1:
            return MCMCResult.concatenate([_run_block(self, size, seed) for size, seed in zip(sizes, seeds)])
        # spawn: a forked child would inherit the parent's OpenMP thread pool; the sampler (settings and
        # metric buffers) is sent to each worker, every random draw is made there from the block's seed
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            parts = list(pool.map(_run_block, [self] * len(sizes), sizes, seeds))
        return MCMCResult.concatenate(parts)

    def _run_chains(self, n: int, generator: torch.Generator | None) -> MCMCResult:
        """n chains in batches of ``settings.batch_size``, every draw from ``generator``."""
        settings = self.settings
        runner = self._on_device()
        parts = []
        with torch_threads(settings.num_threads):
            radius = runner.metric.compact_radius(settings.radius_factor)
            for begin in range(0, n, settings.batch_size):
                z0 = runner._starts(min(settings.batch_size, n - begin), generator)
                parts.append(runner._chains(z0, radius, generator))
        return MCMCResult.concatenate(parts)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n latent codes, (n, d)."""
        return self.run(n, generator).samples
