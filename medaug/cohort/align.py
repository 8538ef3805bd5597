"""Resample a generated native image into MNI space with its known (ground-truth) pose.

This is the reference that preprocessing is checked against, and what the difficulty calibration
and the montages use: an ideal affine registration, with no registration error.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

MNI_BRAIN_BOX_MM: tuple[tuple[float, float], ...] = ((-72.0, 72.0), (-107.0, 73.0), (-72.0, 82.0))
"""Bounding box (mm) of the brain mask of nilearn's MNI152 2009a template."""


def template_grid(voxel_size_mm: float, box_mm=MNI_BRAIN_BOX_MM) -> tuple[tuple[int, int, int], np.ndarray]:
    """Shape and voxel -> MNI mm affine (4, 4) of an RAS grid covering ``box_mm`` at ``voxel_size_mm``."""
    shape = tuple(int(np.floor((hi - lo) / voxel_size_mm)) + 1 for lo, hi in box_mm)
    affine = np.diag([voxel_size_mm] * 3 + [1.0])
    affine[:3, 3] = [lo for lo, _ in box_mm]
    return shape, affine


def resample_to_template(
    data: np.ndarray,
    affine: np.ndarray,
    world_from_mni: np.ndarray,
    voxel_size_mm: float = 2.0,
    order: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Resample a native image onto an MNI grid with the known pose.

    Args:
        data: (X, Y, Z) native voxels.
        affine: (4, 4) native voxel -> world mm.
        world_from_mni: (4, 4) MNI mm -> world mm (the generator's ground truth).
        voxel_size_mm: voxel size of the MNI grid.
        order: spline order of the interpolation (1 = trilinear).

    Returns:
        (x, y, z) float32 volume on the MNI brain box and its (4, 4) voxel -> MNI mm affine.
    """
    shape, mni_affine = template_grid(voxel_size_mm)
    native_from_grid = np.linalg.inv(affine) @ world_from_mni @ mni_affine
    out = ndimage.affine_transform(
        np.asarray(data, dtype=np.float32), native_from_grid[:3, :3], offset=native_from_grid[:3, 3],
        output_shape=shape, order=order, mode="constant", cval=0.0,
    )
    return out, mni_affine
