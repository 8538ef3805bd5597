"""Where and how a stage computes: the torch device, the number of intra-op threads, derived seeds.

The parameter files name the thread count per stage (``train_vae.threads``, ``sample.threads``,
``sample.sampler_threads``, ``classify.threads``, ``audit.threads``); every stage applies it
through :func:`set_threads` (or, for one block, :func:`torch_threads`).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator

import torch

__all__ = ["derived_seed", "resolve_device", "set_threads", "torch_threads"]


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def set_threads(num_threads: int | None) -> None:
    """``torch.set_num_threads(num_threads)``; ``None`` leaves the current setting."""
    if num_threads is not None:
        torch.set_num_threads(int(num_threads))


@contextlib.contextmanager
def torch_threads(num_threads: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(num_threads)``; ``None`` leaves the setting alone.

    Small-tensor MCMC (batches of d = 10 latent codes) runs slower with several intra-op threads than
    with one on small CPUs (``python -m benchmarks.speed.sampling`` measures it), so the samplers take the thread
    count as a parameter.
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


def derived_seed(*parts: object, separator: str = "/", bits: int = 31, byteorder: str = "big") -> int:
    """A seed in [0, 2**bits) derived from ``parts`` (a base seed, then e.g. a label and a sampler).

    The sha256 of the parts' text joined by ``separator``, its first ``ceil(bits / 8)`` bytes read as
    an integer in ``byteorder``, modulo ``2**bits``. Different parts give independent streams from one
    base seed; the same parts give the same seed on every run and machine. The sampler's seeds use the
    defaults; the trainer's epoch and validation seeds use ``separator=":", bits=56,
    byteorder="little"`` (:mod:`medaug.train.seeding`).
    """
    digest = hashlib.sha256(separator.join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[: -(-bits // 8)], byteorder) % (1 << bits)

