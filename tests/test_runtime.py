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
