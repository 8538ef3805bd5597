"""medaug.slicecheck.slices: 2D slices of model-ready volumes, for the 2D mode."""

import numpy as np
import pytest
import torch

from medaug.slicecheck.slices import AXIS_NAMES, extract_slices


def _volumes(n=12, seed=0):
    return torch.rand(n, 1, 8, 10, 9, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("axis, shape", [(0, (10, 9)), (1, (8, 9)), (2, (8, 10))])
def test_extract_slices_shapes_and_content(axis, shape):
    volumes = _volumes(3)
    slices = extract_slices(volumes, axis)
    assert slices.shape == (3, 1, *shape) and slices.is_contiguous()
    middle = volumes.shape[2 + axis] // 2
    assert torch.equal(slices, volumes.select(2 + axis, middle))
    assert torch.equal(extract_slices(volumes, axis, -1), volumes.select(2 + axis, -1))
    volumes.zero_()  # a copy, not a view
    assert slices.abs().sum() > 0


@pytest.mark.parametrize("volumes, axis, index, error, match", [
    (torch.rand(3, 8, 10, 9), 2, None, ValueError, r"\(N, C, D, H, W\)"),
    (torch.rand(3, 1, 8, 10, 9), 3, None, ValueError, "axis must be"),
    (torch.rand(3, 1, 8, 10, 9), 2, 9, ValueError, r"index must be an integer in \[-9, 9\)"),
    (torch.rand(3, 1, 8, 10, 9), 0, -9, ValueError, "index must be"),
    (torch.zeros(3, 1, 8, 10, 9, dtype=torch.int64), 2, None, TypeError, "floating point"),
    (np.zeros((3, 1, 8, 10, 9), np.float32), 2, None, TypeError, "torch.Tensor"),
])
def test_extract_slices_errors(volumes, axis, index, error, match):
    with pytest.raises(error, match=match):
        extract_slices(volumes, axis, index)


def test_a_slice_of_a_ramp_holds_the_ramp_value_of_its_plane():
    depth = torch.arange(8.0)[:, None, None].expand(8, 10, 9)   # value = index along D
    volumes = torch.stack([depth, 2 * depth])[:, None]           # (2, 1, 8, 10, 9)
    slices = extract_slices(volumes, axis=0, index=3)
    assert torch.equal(slices[0, 0], torch.full((10, 9), 3.0)) and torch.equal(slices[1, 0], torch.full((10, 9), 6.0))
    across = extract_slices(volumes, axis=2, index=0)            # (D, H) planes keep the ramp along D
    assert torch.equal(across[0, 0, :, 0], torch.arange(8.0))


def test_bools_are_no_axis_or_index_and_the_axes_are_named():
    with pytest.raises(ValueError, match="axis must be"):
        extract_slices(_volumes(1), axis=True)
    with pytest.raises(ValueError, match="index must be"):
        extract_slices(_volumes(1), axis=0, index=False)
    assert AXIS_NAMES == {0: "sagittal (x)", 1: "coronal (y)", 2: "axial (z)"}
