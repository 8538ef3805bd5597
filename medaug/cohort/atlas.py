"""The template atlas the demo anatomy is built from: nilearn's bundled MNI152 2009a (1 mm).

Everything here is in MNI152 template space (mm). The atlas holds three intensity maps, so that
a subject's intensity image is one linear combination and one interpolation per voxel:

- ``base``: the T1 template on a white-matter-equals-one scale, plus (optionally) a synthetic
  scalp / skull shell around the skull-stripped brain, so that native images look like whole-head
  scans for the preprocessing;
- ``gm_contrast``: grey-matter probability x (T1 - CSF intensity): subtracting a fraction of it moves
  grey matter towards CSF, a partial-volume model of diffuse cortical thinning;
- ``mtl_contrast``: the same, restricted to soft medial-temporal-lobe regions (hippocampus,
  amygdala, entorhinal cortex) built from template coordinates and the grey-matter map.

Region centres are MNI coordinates (mm) read off the ICBM152 2009a template. The lateral
ventricles are C-shaped, so their centroid lies in white matter: instead the atlas cuts each
ventricle's dark voxels into ``VENTRICLE_CHUNKS`` slabs along y and keeps, for each slab, the
ventricle voxel nearest to the slab's centroid as an expansion centre.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

# (centre in MNI mm, Gaussian sd in mm per axis): bilateral regions, mirrored in x.
MTL_REGIONS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "hippocampus": ((26.0, -22.0, -14.0), (5.0, 11.0, 5.0)),
    "amygdala": ((23.0, -4.0, -19.0), (5.0, 5.0, 5.0)),
    "entorhinal": ((24.0, -10.0, -30.0), (5.0, 7.0, 4.0)),
}
VENTRICLE_CHUNKS = 4
VENTRICLE_SD_MM: tuple[float, float, float] = (7.0, 9.0, 7.0)
HIPPOCAMPUS_SHRINK_SD_MM: tuple[float, float, float] = (6.0, 12.0, 6.0)

# Synthetic head shell outside the brain mask: (outer distance in mm, intensity on the WM=1 scale), as
# on a T1 MPRAGE: CSF gap, inner table (dark), diploe (fatty marrow, bright), outer table (dark),
# galea and muscle (grey), subcutaneous fat (as bright as white matter or brighter), skin.
HEAD_SHELL_LAYERS: tuple[tuple[float, float], ...] = (
    (3.0, 0.18), (4.5, 0.04), (6.5, 0.70), (8.0, 0.04), (9.5, 0.45), (13.0, 1.05), (14.5, 0.55),
)
PAD_MM = 18


@dataclass(frozen=True)
class TemplateAtlas:
    """Template-space maps, all of shape (X, Y, Z) float32 on the same 1 mm grid.

    Attributes:
        base: T1 intensity (white matter = 1) plus the head shell.
        gm_contrast: grey-matter probability x (T1 - CSF), >= 0.
        mtl_contrast: medial-temporal weight x (T1 - CSF), >= 0.
        brain_mask: boolean brain mask of the template.
        affine: (4, 4) voxel -> MNI mm.
        head_box: (3, 2) voxel index bounds (inclusive low, exclusive high) of the head (base > 0).
        mtl_box: (3, 2) voxel index bounds of the medial-temporal regions.
        ventricle_centres_mm: (2 * VENTRICLE_CHUNKS, 3) expansion centres inside the lateral ventricles.
        csf_intensity: typical ventricle intensity on the WM = 1 scale.
    """

    base: np.ndarray
    gm_contrast: np.ndarray
    mtl_contrast: np.ndarray
    brain_mask: np.ndarray
    affine: np.ndarray
    head_box: np.ndarray
    mtl_box: np.ndarray
    ventricle_centres_mm: np.ndarray
    csf_intensity: float

    def world_coordinates(self) -> np.ndarray:
        """MNI mm coordinates of every voxel, shape (3, X, Y, Z) float32."""
        return _coordinates(self.base.shape, self.affine)

    @functools.cached_property
    def head_reach(self) -> np.ndarray:
        """(X, Y, Z) bool: voxels within 2 voxels (26-connected) of one where ``base`` > 0 (about 1 s, once).

        A point whose nearest voxel is outside it has all 8 trilinear neighbours at ``base`` == 0.
        """
        return ndimage.binary_dilation(self.base > 0, structure=np.ones((3, 3, 3), dtype=bool), iterations=2)

    def near_head(self, points: np.ndarray) -> np.ndarray:
        """(N,) bool: which of ``points`` (3, N) MNI mm may get a non-zero trilinear ``base`` value
        (their nearest voxel, clipped to the grid, is in :attr:`head_reach`)."""
        vox_from_mm = np.linalg.inv(self.affine).astype(np.float32)
        voxel = np.rint(vox_from_mm[:3, :3] @ points + vox_from_mm[:3, 3:4])
        index = [np.clip(voxel[axis], 0, n - 1).astype(np.intp) for axis, n in enumerate(self.base.shape)]
        return self.head_reach[tuple(index)]

    @functools.cached_property
    def brain_points_mm(self) -> np.ndarray:
        """(3, M) float32 MNI mm of the brain-mask voxels, computed once per atlas (about 1 s)."""
        return brain_points(self.brain_mask, self.affine)


def brain_points(mask: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """(3, M) float32 mm, by ``affine`` (4, 4), of the voxels where ``mask`` (X, Y, Z) is true, in C order."""
    voxels = np.argwhere(mask).T.astype(np.float32)
    return affine[:3, :3].astype(np.float32) @ voxels + affine[:3, 3:4].astype(np.float32)


def within_box(points: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Indices (M,) of the ``points`` (3, N) strictly inside the box ``lo`` (3,) .. ``hi`` (3,) mm."""
    inside = (points[0] > lo[0]) & (points[0] < hi[0])
    for axis in (1, 2):
        inside &= (points[axis] > lo[axis]) & (points[axis] < hi[axis])
    return np.flatnonzero(inside)


def gaussian_weight(xyz: np.ndarray, centre, sd) -> np.ndarray:
    """exp(-1/2 sum_k ((x_k - c_k) / sd_k)^2) for points ``xyz`` of shape (3, ...)."""
    acc = np.zeros(xyz.shape[1:], dtype=np.float32)
    for axis in range(3):
        acc += ((xyz[axis] - np.float32(centre[axis])) / np.float32(sd[axis])) ** 2
    return np.exp(-0.5 * acc)


def _bounding_box(mask: np.ndarray, margin: int = 1) -> np.ndarray:
    idx = np.nonzero(mask)
    lo = [max(int(i.min()) - margin, 0) for i in idx]
    hi = [min(int(i.max()) + 1 + margin, n) for i, n in zip(idx, mask.shape)]
    return np.array(list(zip(lo, hi)), dtype=np.int64)


def _mtl_contrast(atlas_xyz: np.ndarray, t1: np.ndarray, gm: np.ndarray, tissue_contrast: np.ndarray) -> np.ndarray:
    """Tissue contrast weighted by Gaussians at both sides' medial temporal regions (``MTL_REGIONS``,
    centres and sds in mm), mostly in grey matter and partly in white; float32, the atlas grid."""
    mtl_weight = np.zeros(t1.shape, dtype=np.float32)
    for centre, sd in MTL_REGIONS.values():
        for side in (-1.0, 1.0):
            mtl_weight = np.maximum(mtl_weight, gaussian_weight(atlas_xyz, (side * centre[0], *centre[1:]), sd))
    mtl_weight *= np.clip(gm + 0.5 * (1 - gm) * (t1 > 0), 0, 1)  # mostly grey matter, some white
    return (mtl_weight * tissue_contrast).astype(np.float32)


def _with_head_shell(t1: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``t1`` inside the brain ``mask`` and, outside it, the layers of ``HEAD_SHELL_LAYERS`` (outer
    distance from the brain in mm = voxels, intensity) smoothed by a 0.8-voxel Gaussian; float32."""
    base = t1.copy()
    distance = ndimage.distance_transform_edt(~mask).astype(np.float32)
    shell = np.zeros_like(base)
    inner = 0.0
    for outer, value in HEAD_SHELL_LAYERS:
        shell[(distance > inner) & (distance <= outer)] = value
        inner = outer
    shell = ndimage.gaussian_filter(shell, 0.8)
    return np.where(mask, base, shell).astype(np.float32)


@functools.lru_cache(maxsize=2)
def load_template_atlas(head_shell: bool = True) -> TemplateAtlas:
    """Build the atlas from nilearn's bundled MNI152 template (offline; about 2 s, cached).

    The template grid is padded by ``PAD_MM`` voxels on every side so that the head shell fits.
    """
    from nilearn import datasets  # imported here: nilearn is slow to import

    t1_img = datasets.load_mni152_template(resolution=1)
    t1 = t1_img.get_fdata(dtype=np.float32)
    gm = datasets.load_mni152_gm_template(resolution=1).get_fdata(dtype=np.float32)
    mask = datasets.load_mni152_brain_mask(resolution=1).get_fdata(dtype=np.float32) > 0.5

    pad = [(PAD_MM, PAD_MM)] * 3
    t1, gm, mask = np.pad(t1, pad), np.pad(gm, pad), np.pad(mask, pad)
    affine = t1_img.affine.copy()
    affine[:3, 3] -= affine[:3, :3] @ np.full(3, PAD_MM)

    # White matter = 1: the template's WM sits at ~0.87 of its range.
    wm = datasets.load_mni152_wm_template(resolution=1).get_fdata(dtype=np.float32)
    wm = np.pad(wm, pad)
    t1 = t1 / np.float32(np.median(t1[wm > 0.9]))
    t1[~mask] = 0.0

    atlas_xyz = _coordinates(t1.shape, affine)
    ventricle_box = (
        mask
        & (np.abs(atlas_xyz[0]) < 30)
        & (atlas_xyz[1] > -45) & (atlas_xyz[1] < 25)
        & (atlas_xyz[2] > -5) & (atlas_xyz[2] < 35)
    )
    dark = ventricle_box & (t1 < 0.35)
    csf = float(np.median(t1[dark]))
    ventricle_centres = _ventricle_centres(atlas_xyz[:, dark])

    tissue_contrast = np.clip(t1 - np.float32(csf), 0.0, None) * mask
    gm_contrast = (gm * tissue_contrast).astype(np.float32)

    mtl_contrast = _mtl_contrast(atlas_xyz, t1, gm, tissue_contrast)
    base = _with_head_shell(t1, mask) if head_shell else t1.copy()

    return TemplateAtlas(
        base=base,
        gm_contrast=gm_contrast,
        mtl_contrast=mtl_contrast,
        brain_mask=mask,
        affine=affine,
        head_box=_bounding_box(base > 1e-3),
        mtl_box=_bounding_box(mtl_contrast > 1e-3),
        ventricle_centres_mm=ventricle_centres,
        csf_intensity=csf,
    )


def _coordinates(shape, affine) -> np.ndarray:
    ijk = np.indices(shape, dtype=np.float32).reshape(3, -1)
    xyz = affine[:3, :3].astype(np.float32) @ ijk + affine[:3, 3:].astype(np.float32)
    return xyz.reshape(3, *shape)


def _ventricle_centres(points: np.ndarray) -> np.ndarray:
    """Per hemisphere and y-slab of ventricle points (3, N) mm, the point nearest the slab centroid."""
    centres = []
    for side in (-1.0, 1.0):
        half = points[:, np.sign(points[0]) == side]
        edges = np.quantile(half[1], np.linspace(0, 1, VENTRICLE_CHUNKS + 1))
        for lo, hi in zip(edges[:-1], edges[1:]):
            slab = half[:, (half[1] >= lo) & (half[1] <= hi)]
            nearest = np.argmin(((slab - slab.mean(axis=1, keepdims=True)) ** 2).sum(axis=0))
            centres.append(slab[:, nearest])
    return np.asarray(centres, dtype=np.float32)
