"""Where and how a stage computes: the torch device and the number of intra-op threads.

The parameter files name the thread count per stage (``train_vae.threads``, ``sample.threads``,
``sample.sampler_threads``, ``classify.threads``, ``audit.threads``); every stage applies it
through :func:`set_threads` (or, for one block, :func:`torch_threads`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

__all__ = ["resolve_device", "set_threads", "torch_threads"]


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
