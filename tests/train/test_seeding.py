"""medaug.train.seeding: the epoch and validation seeds, and seeding / forking torch's generators."""

from __future__ import annotations

import hashlib

import torch

from medaug.train.seeding import epoch_seed, forked_rng, seed_torch, validation_seed


def test_seeds_keep_their_encoding():
    """sha256 of "seed:epoch:restarts" (or "seed:validation"), first 7 bytes little-endian: resumed runs
    and committed results depend on these exact values."""
    assert epoch_seed(5, 2, 0) == int.from_bytes(hashlib.sha256(b"5:2:0").digest()[:7], "little")
    assert validation_seed(5) == int.from_bytes(hashlib.sha256(b"5:validation").digest()[:7], "little")
    assert len({epoch_seed(5, 2, 0), epoch_seed(5, 2, 1), epoch_seed(5, 3, 0), epoch_seed(6, 2, 0)}) == 4
    assert 0 <= epoch_seed(5, 2, 0) < 1 << 56


def test_seed_torch_repeats_draws_and_forked_rng_restores_the_state():
    cpu = torch.device("cpu")
    seed_torch(11, cpu)
    first = torch.rand(3)
    seed_torch(11, cpu)
    assert torch.equal(torch.rand(3), first)
    expected_next = torch.rand(2)
    seed_torch(11, cpu)
    torch.rand(3)
    with forked_rng(cpu):
        seed_torch(99, cpu)
        torch.rand(100)
    assert torch.equal(torch.rand(2), expected_next)
