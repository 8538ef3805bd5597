"""Orthogonal slices of an MNI-aligned RAS volume through a point given in mm: shared by every montage."""

from __future__ import annotations

import numpy as np

__all__ = ["SLICE_MM", "orthogonal_slices"]

SLICE_MM = (-22.0, -14.0, 26.0)
"""Coronal y, axial z and sagittal x (mm) through the right hippocampus, where AD atrophy shows."""


def orthogonal_slices(volume: np.ndarray, affine: np.ndarray, point_mm=SLICE_MM) -> list[np.ndarray]:
    """Axial, coronal and sagittal slices of an RAS volume through ``point_mm`` (y, z, x order above)."""
    inv = np.linalg.inv(affine)
    y_mm, z_mm, x_mm = point_mm
    i, j, k = np.rint(inv[:3, :3] @ np.array([x_mm, y_mm, z_mm]) + inv[:3, 3]).astype(int)
    i, j, k = (int(np.clip(v, 0, n - 1)) for v, n in zip((i, j, k), volume.shape))
    return [volume[:, :, k].T, volume[:, j, :].T, volume[i, :, :].T]
