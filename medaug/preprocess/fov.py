"""Neck removal before registration: keep the head from its top down, as FSL's robustfov does.

A whole-head scan often shows the neck, the face and the shoulders. Registered to a brain template
from a centre-of-mass start, the neck pulls the fit (the brain came out a third too small on a
real scan). FSL's ``robustfov`` keeps a fixed length (170 mm by default) below the top of the head;
:func:`crop_neck` does the same on the image grid:

1. the superior direction is the voxel axis whose direction is closest to world +z (RAS mm; any
   storage orientation: RAS, LAS, PSL sagittal, ...);
2. a head mask: voxels above ``threshold_fraction`` of the 99th intensity percentile, on a grid
   down-sampled to about ``HEAD_MASK_STEP_MM``, its large connected components (no opening: it
   would erase a scalp a few mm thick at this resolution);
3. the top of the head is the highest world z of the mask; the slices along the superior
   axis that lie entirely more than ``length_mm`` below it are dropped.

The image keeps its world geometry (only its grid is shortened), so a transform estimated on the
cropped image applies to the original one unchanged. Nothing is dropped when the field of view is
shorter than ``length_mm`` below the top (a scan without a neck).
"""

from __future__ import annotations

from dataclasses import dataclass

import nibabel as nib
import numpy as np
from scipy import ndimage

HEAD_MASK_STEP_MM = 4.0
"""Voxel size (mm, about) of the grid the head mask is computed on."""

MIN_COMPONENT_FRACTION = 0.1
"""Bright components smaller than this fraction of the largest are noise, not head or body."""


@dataclass(frozen=True)
class NeckCrop:
    """What :func:`crop_neck` did.

    Attributes:
        axis: voxel axis along which slices were dropped (the one closest to world superior).
        kept: (first, stop) slice indices kept along ``axis`` (stop exclusive).
        head_top_mm: world z (mm) of the top of the head.
        removed_mm: length (mm) removed below the kept slab (0: nothing removed).
    """

    axis: int
    kept: tuple[int, int]
    head_top_mm: float
    removed_mm: float


def superior_axis(affine: np.ndarray) -> int:
    """The voxel axis whose world direction is closest to +-z (superior-inferior)."""
    linear = np.asarray(affine, dtype=float)[:3, :3]
    directions = linear / np.linalg.norm(linear, axis=0)
    return int(np.argmax(np.abs(directions[2])))


def head_mask(data: np.ndarray, step: tuple[int, int, int], threshold_fraction: float) -> np.ndarray:
    """Large bright components of ``data[::step]`` (boolean, on the down-sampled grid).

    Every connected component of at least ``MIN_COMPONENT_FRACTION`` of the largest one is kept:
    the head and the body may come apart at this resolution (a thin dark skull base), and the
    largest component is then the shoulders, not the head; noise specks are far smaller.
    """
    coarse = np.asarray(data[tuple(slice(None, None, s) for s in step)], dtype=np.float32)
    high = float(np.percentile(coarse, 99.0))
    mask = coarse > threshold_fraction * high
    labels, count = ndimage.label(mask)
    if count == 0:
        return mask
    sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, count + 1))
    large = np.flatnonzero(sizes >= MIN_COMPONENT_FRACTION * sizes.max()) + 1
    return np.isin(labels, large)


def crop_neck(image: nib.Nifti1Image, length_mm: float, threshold_fraction: float = 0.2
              ) -> tuple[nib.Nifti1Image, NeckCrop]:
    """Drop the slices more than ``length_mm`` below the top of the head (see the module docstring).

    Returns the cropped image (same world geometry, shorter grid) and a :class:`NeckCrop`. An image
    whose head mask is empty, or that holds nothing further than ``length_mm`` below the top, comes
    back unchanged.
    """
    data = np.asarray(image.dataobj)
    affine = np.asarray(image.affine, dtype=float)
    axis = superior_axis(affine)
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    step = tuple(max(1, int(round(HEAD_MASK_STEP_MM / s))) for s in spacing)
    unchanged = NeckCrop(axis, (0, data.shape[axis]), float("nan"), 0.0)
    mask = head_mask(data, step, threshold_fraction)  # type: ignore[arg-type]
    if not mask.any():
        return image, unchanged
    ijk = np.argwhere(mask).T * np.asarray(step)[:, None]
    z = affine[2, :3] @ ijk + affine[2, 3]
    top = float(z.max()) + 0.5 * HEAD_MASK_STEP_MM
    # world z of the highest corner of each slice along the axis: drop slices entirely below the cut
    others = [a for a in range(3) if a != axis]
    corner_rise = sum(max(0.0, affine[2, a] * (data.shape[a] - 1)) for a in others)
    index = np.arange(data.shape[axis])
    slice_top = affine[2, axis] * index + affine[2, 3] + corner_rise
    keep = np.flatnonzero(slice_top >= top - length_mm)
    if keep.size == 0 or keep.size == data.shape[axis]:
        return image, NeckCrop(axis, (0, data.shape[axis]), top, 0.0)
    first, stop = int(keep.min()), int(keep.max()) + 1
    box = [slice(None)] * 3
    box[axis] = slice(first, stop)
    start = np.zeros(3)
    start[axis] = first
    new_affine = affine.copy()
    new_affine[:3, 3] = affine[:3, :3] @ start + affine[:3, 3]
    cropped = nib.Nifti1Image(np.asarray(data[tuple(box)]), new_affine, image.header)
    cropped.set_qform(new_affine, code=1)
    cropped.set_sform(new_affine, code=1)
    removed = float((data.shape[axis] - (stop - first)) * spacing[axis])
    return cropped, NeckCrop(axis, (first, stop), top, removed)


def cranium_centre(data: np.ndarray, affine: np.ndarray, cap_mm: float, threshold_fraction: float) -> np.ndarray:
    """World (RAS mm) centroid of the head mask within ``cap_mm`` below the top of the head, (3,).

    The cap of the head (the cranium, above the skull base) is where a whole-head scan and a brain
    template agree; the neck, the face and the shoulders below it do not move this centre, unlike
    the centre of mass of the whole image. Raises ``ValueError`` for an image without a head mask.
    """
    affine = np.asarray(affine, dtype=float)
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    step = np.asarray([max(1, int(round(HEAD_MASK_STEP_MM / s))) for s in spacing])
    mask = head_mask(data, tuple(step), threshold_fraction)  # type: ignore[arg-type]
    if not mask.any():
        raise ValueError("no head found in the image (every voxel below the head threshold)")
    world = affine[:3, :3] @ (np.argwhere(mask).T * step[:, None]) + affine[:3, 3:4]
    cap = world[:, world[2] >= world[2].max() - cap_mm]
    return cap.mean(axis=1)
