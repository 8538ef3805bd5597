"""medaug.runtime: the torch device by name and the intra-op thread count."""

import pytest
import torch

from medaug.runtime import resolve_device, set_threads, torch_threads


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_set_threads_and_the_block_that_restores_them():
    set_threads(2)
    assert torch.get_num_threads() == 2
    set_threads(None)
    assert torch.get_num_threads() == 2
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with pytest.raises(RuntimeError), torch_threads(1):
        raise RuntimeError("inside the block")
    assert torch.get_num_threads() == 2
    with torch_threads(None):
        assert torch.get_num_threads() == 2


def test_derived_seed_keeps_the_samplers_and_the_trainers_encodings():
    import hashlib

    from medaug.runtime import derived_seed

    sampler = int(hashlib.sha256(b"11/AD/rhvae_hmc").hexdigest()[:8], 16) % (1 << 31)
    assert derived_seed(11, "AD", "rhvae_hmc") == sampler == 211474064
    epoch = int.from_bytes(hashlib.sha256(b"7:3:1").digest()[:7], "little")
    assert derived_seed(7, 3, 1, separator=":", bits=56, byteorder="little") == epoch
    assert derived_seed(11, "AD") != derived_seed(11, "CN") and 0 <= derived_seed(11, "CN") < 1 << 31
