"""2D slices of model-ready volumes: the data of the 2D mode (thesis ch. 2-3 study the samplers on 2D images).

The same model classes, trainer and samplers run on (N, C, H', W') slices as on (N, C, D, H, W)
volumes (``NetworkConfig.spatial_dims = 2``), so a change can be tried on slices in seconds before
it is tried on volumes (:mod:`medaug.slicecheck.check`).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["extract_slices"]

#: Spatial axis of an (N, C, D, H, W) stack -> its name in model-ready (RAS, template-space) volumes.
AXIS_NAMES = {0: "sagittal (x)", 1: "coronal (y)", 2: "axial (z)"}


def extract_slices(volumes: Tensor, axis: int = 2, index: int | None = None) -> Tensor:
    """The plane ``index`` across spatial ``axis`` of every volume: (N, C, D, H, W) -> (N, C, H', W').

    Args:
        volumes: a floating-point stack (N, C, D, H, W), e.g. model-ready volumes (N, 1, D, H, W).
        axis: the spatial axis cut across: 0 (D), 1 (H) or 2 (W). In model-ready volumes (RAS,
            template space) 0 gives sagittal, 1 coronal and 2 axial slices.
        index: the plane, 0 <= index < size of ``axis`` (negative counts from the end);
            None takes the middle one, ``size // 2``.

    Returns:
        a contiguous copy (N, C, H', W'), the two remaining spatial axes in their order
        (axis 0: (H, W); axis 1: (D, W); axis 2: (D, H)). It does not share memory with
        ``volumes``, so a large stack can be freed afterwards.

    Raises:
        TypeError: ``volumes`` is not a floating-point tensor.
        ValueError: not 5-dimensional, an axis other than 0, 1, 2, or an index out of range.
    """
    if not isinstance(volumes, Tensor):
        raise TypeError(f"volumes must be a torch.Tensor (N, C, D, H, W), got {type(volumes).__name__}")
    if volumes.ndim != 5:
        raise ValueError(f"volumes must be (N, C, D, H, W), got shape {tuple(volumes.shape)}")
    if not volumes.is_floating_point():
        raise TypeError(f"volumes must be floating point, got {volumes.dtype}")
    if isinstance(axis, bool) or axis not in (0, 1, 2):
        raise ValueError(f"axis must be a spatial axis 0 (D), 1 (H) or 2 (W), got {axis!r}")
    size = volumes.shape[2 + axis]
    if index is None:
        index = size // 2
    if isinstance(index, bool) or not isinstance(index, int) or not -size <= index < size:
        raise ValueError(f"index must be an integer in [{-size}, {size}) for axis {axis} of size {size}, got {index!r}")
    return torch.select(volumes, 2 + axis, index).clone(memory_format=torch.contiguous_format)
