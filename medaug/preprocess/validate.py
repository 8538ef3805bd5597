"""Checks on an input T1w image before any work is spent on it.

Every failure is an :class:`InvalidImageError` whose message starts with the file name, so the
stage can record it in its TSV and carry on with the other images.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import nibabel as nib
import numpy as np

MIN_VOXELS_PER_AXIS = 8


class InvalidImageError(ValueError):
    """An input image cannot be preprocessed; the message names the file and the reason."""


def load_t1w(path: str | Path) -> nib.Nifti1Image:
    """Read and check a 3D T1w NIfTI image; return it with its voxels decoded (float32).

    A 4D image whose fourth axis has length 1 is accepted as 3D. Raises :class:`InvalidImageError`
    for a missing, truncated or unreadable file, a 4D (or 2D) image, NaN/Inf voxels, an image with
    a single value everywhere (empty), fewer than 8 voxels along an axis, or an affine that is
    singular or sheared.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidImageError(f"{path}: file not found")
    try:
        image = nib.load(path)
        data = np.asarray(image.get_fdata(dtype=np.float32))
    except (OSError, EOFError, zlib.error, ValueError, nib.filebasedimages.ImageFileError) as err:
        raise InvalidImageError(f"{path}: unreadable or truncated NIfTI ({type(err).__name__}: {err})") from err
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise InvalidImageError(f"{path}: expected a 3D image, found shape {data.shape}")
    if min(data.shape) < MIN_VOXELS_PER_AXIS:
        raise InvalidImageError(f"{path}: too small ({data.shape} voxels; need >= {MIN_VOXELS_PER_AXIS} per axis)")
    finite = np.isfinite(data)
    if not finite.all():
        raise InvalidImageError(f"{path}: {int((~finite).sum())} NaN/Inf voxel(s)")
    if float(data.max()) == float(data.min()):
        raise InvalidImageError(f"{path}: empty image (every voxel is {float(data.min()):g})")
    affine = np.asarray(image.affine, dtype=float)
    linear = affine[:3, :3]
    spacing = np.linalg.norm(linear, axis=0)
    if not np.all(np.isfinite(affine)) or np.any(spacing <= 0) or abs(np.linalg.det(linear)) < 1e-9:
        raise InvalidImageError(f"{path}: singular voxel-to-world affine")
    direction = linear / spacing
    if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-4):
        raise InvalidImageError(f"{path}: sheared voxel-to-world affine (not supported)")
    checked = nib.Nifti1Image(data, affine)
    checked.header.set_xyzt_units("mm")
    return checked
