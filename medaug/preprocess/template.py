"""The registration target: nilearn's MNI152 2009a symmetric template, its brain mask and the crop box.

nilearn (>= 0.11) bundles the ICBM152 2009a *symmetric* non-linear template at 1 mm, skull-stripped,
on a 197 x 233 x 189 voxel grid (RAS, origin at voxel (98, 134, 72)); it loads offline. clinica's
t1-linear uses the 2009c template, so the space written in file names is the one actually used here:
``MNI152NLin2009aSym``.

Crop box (clinica's 169 x 208 x 179 voxels at 1 mm). :func:`crop_box` centres the box on the
bounding box of the brain mask and shifts it, where needed, to stay inside the template grid.
On nilearn's template (brain mask voxels x 26..170, y 27..207, z 0..154, inclusive) this gives::

    start = (14, 13, 0), stop = (183, 221, 179)          (voxels, stop exclusive)
    x -84..84 mm, y -121..86 mm, z -72..106 mm             (RAS world mm, voxel centres)

The mask reaches the lowest slice of the template grid (z = 0), so the box starts there; it holds
the whole brain mask with margins x 12/12, y 14/13, z 0/24 voxels.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import nibabel as nib
import numpy as np

TEMPLATE_SPACE = "MNI152NLin2009aSym"
"""BIDS/CAPS name of the template space the images are registered to."""

CLINICA_CROP_SHAPE: tuple[int, int, int] = (169, 208, 179)
"""Shape (voxels, 1 mm) of clinica's t1-linear ``desc-Crop`` images."""


@dataclass(frozen=True)
class CropBox:
    """A box of voxels on a grid: ``start`` (inclusive) and ``shape``, both (x, y, z) in voxels."""

    start: tuple[int, int, int]
    shape: tuple[int, int, int]

    @property
    def stop(self) -> tuple[int, int, int]:
        return tuple(int(a + n) for a, n in zip(self.start, self.shape))  # type: ignore[return-value]

    @property
    def slices(self) -> tuple[slice, slice, slice]:
        return tuple(slice(a, b) for a, b in zip(self.start, self.stop))  # type: ignore[return-value]

    def affine(self, grid_affine: np.ndarray) -> np.ndarray:
        """4x4 voxel-to-world affine of the cropped grid, given the full grid's affine."""
        out = np.array(grid_affine, dtype=float, copy=True)
        out[:3, 3] = grid_affine[:3, :3] @ np.asarray(self.start, dtype=float) + grid_affine[:3, 3]
        return out


@dataclass(frozen=True)
class Template:
    """The template on its native grid.

    Attributes:
        image: T1 template, float32, shape (197, 233, 189) for nilearn's 1 mm template, values in [0, 1].
        brain_mask: uint8 brain mask (0/1) on the same grid.
    """

    image: nib.Nifti1Image
    brain_mask: nib.Nifti1Image

    @property
    def affine(self) -> np.ndarray:
        return self.image.affine

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.image.shape)  # type: ignore[return-value]

    def cropped(self, box: CropBox) -> Template:
        """The template and mask restricted to ``box`` (their affine moves with the box)."""
        affine = box.affine(self.affine)
        image = np.asarray(self.image.dataobj, dtype=np.float32)[box.slices]
        mask = np.asarray(self.brain_mask.dataobj, dtype=np.uint8)[box.slices]
        return Template(nib.Nifti1Image(image, affine), nib.Nifti1Image(mask, affine))


@lru_cache(maxsize=2)
def load_template(resolution_mm: int = 1) -> Template:
    """Load nilearn's bundled MNI152 2009a template and brain mask (offline) as float32 / uint8 images."""
    from nilearn import datasets

    image = datasets.load_mni152_template(resolution=resolution_mm)
    mask = datasets.load_mni152_brain_mask(resolution=resolution_mm)
    data = np.asarray(image.get_fdata(), dtype=np.float32)
    mask_data = (np.asarray(mask.get_fdata()) > 0.5).astype(np.uint8)
    if mask_data.shape != data.shape or not np.allclose(mask.affine, image.affine):
        raise ValueError("nilearn's MNI152 template and brain mask are not on the same grid")
    return Template(nib.Nifti1Image(data, image.affine), nib.Nifti1Image(mask_data, image.affine))


def crop_box(brain_mask: np.ndarray, shape: tuple[int, int, int] = CLINICA_CROP_SHAPE) -> CropBox:
    """The box of ``shape`` voxels centred on the mask's bounding box, shifted to stay inside the grid.

    Raises ``ValueError`` when the box is larger than the grid or cannot hold the whole mask.
    """
    mask = np.asarray(brain_mask) > 0
    if mask.ndim != 3 or not mask.any():
        raise ValueError("the brain mask must be a non-empty 3D array")
    grid = np.asarray(mask.shape)
    size = np.asarray(shape, dtype=int)
    if np.any(size > grid):
        raise ValueError(f"crop shape {tuple(size)} is larger than the template grid {tuple(grid)}")
    inside = np.argwhere(mask)
    low, high = inside.min(axis=0), inside.max(axis=0)  # inclusive
    start = np.floor((low + high + 1) / 2.0 - size / 2.0).astype(int)
    start = np.clip(start, 0, grid - size)
    if np.any(start > low) or np.any(start + size <= high):
        raise ValueError(f"crop shape {tuple(size)} cannot hold the brain mask (voxels {tuple(low)}..{tuple(high)})")
    return CropBox(tuple(int(s) for s in start), tuple(int(n) for n in size))  # type: ignore[arg-type]
