"""Seeds of a training run: each epoch's, the validation noise's, and seeding torch's generators.

Every epoch is seeded from (seed, epoch, restarts), so a run resumed from a checkpoint draws what an
uninterrupted one draws. The seeds are :func:`medaug.runtime.derived_seed` with the ``":"``
separator and 56 bits.
"""

from __future__ import annotations

import torch

from medaug.runtime import derived_seed

__all__ = ["epoch_seed", "forked_rng", "seed_torch", "validation_seed"]


def epoch_seed(seed: int, epoch: int, restarts: int) -> int:
    """The seed of epoch ``epoch`` (from 1) of a run seeded with ``seed``, after ``restarts`` restarts."""
    return derived_seed(seed, epoch, restarts, separator=":", bits=56, byteorder="little")


def validation_seed(seed: int) -> int:
    """The seed of the validation noise of a run seeded with ``seed`` (the same for every epoch)."""
    return derived_seed(seed, "validation", separator=":", bits=56, byteorder="little")


def seed_torch(seed: int, device: torch.device) -> None:
    """Seed torch's default generators of the CPU and of ``device``.

    What ``torch.manual_seed`` does for those two, without visiting every other backend (on a
    CPU-only build that costs about as much as a small training step).
    """
    torch.default_generator.manual_seed(seed)
    if device.type == "cpu":
        return
    module = torch.get_device_module(device.type)
    if device.index is not None and hasattr(module, "device"):
        with module.device(device.index):
            module.manual_seed(seed)
    else:
        module.manual_seed(seed)


def forked_rng(device: torch.device):
    """Save the RNG state of the CPU and of ``device``; restore it on exit."""
    if device.type == "cpu":
        return torch.random.fork_rng(devices=[])
    index = device.index if device.index is not None else torch.get_device_module(device.type).current_device()
    return torch.random.fork_rng(devices=[index], device_type=device.type)
