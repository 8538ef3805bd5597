"""Demo only: medial-temporal-lobe and ventricle "volume" proxies from the demo generator's regions.

The demo cohort (``medaug.cohort``) makes AD by removing contrast in soft medial-temporal regions
and by expanding the lateral ventricles around given centres, all in MNI mm. Model-ready volumes
live on a grid whose voxel-to-MNI affine is stored in ``model_ready.json``, so the same regions can
be drawn on it: a region is where a Gaussian weight (centre, sd in mm) reaches ``min_weight``.

The proxy is the *dark-voxel fraction* inside a region: the share of its voxels with intensity
below a per-region ``threshold`` on the [0, 1] model-ready scale. Atrophy (tissue replaced by CSF)
and ventricle expansion both raise it. At the demo's ~4 mm voxels partial volume keeps the medial
temporal lobe above CSF intensity, so its threshold marks "darker than healthy tissue" rather than
pure CSF; the region's mean intensity is reported too. It is a proxy for volume, not a
segmentation, and it means nothing on real scans.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def grid_coordinates(shape: Sequence[int], affine: np.ndarray) -> np.ndarray:
    """World (mm) coordinates of every voxel centre of a grid: float64 (3, D, H, W)."""
    ijk = np.indices(tuple(int(s) for s in shape), dtype=np.float64).reshape(3, -1)
    affine = np.asarray(affine, dtype=np.float64)
    return (affine[:3, :3] @ ijk + affine[:3, 3:]).reshape(3, *shape)


def gaussian_region_weight(xyz: np.ndarray, centres_mm: Iterable[Sequence[float]], sd_mm: Sequence[float] | Iterable[Sequence[float]],
                           mirror_x: bool = False) -> np.ndarray:
    """Largest Gaussian weight ``exp(-|x - c|^2 / 2 sd^2)`` (per-axis sd) over the centres: (D, H, W).

    ``sd_mm``: one (3,) sd for every centre, or one per centre. With ``mirror_x`` every centre is also
    used with its x coordinate negated (bilateral regions).
    """
    centres = np.atleast_2d(np.asarray(list(centres_mm), dtype=np.float64))
    sds = np.asarray(sd_mm, dtype=np.float64)
    sds = np.broadcast_to(sds, centres.shape) if sds.ndim == 1 else sds
    if mirror_x:
        centres = np.concatenate([centres, centres * np.array([-1.0, 1.0, 1.0])])
        sds = np.concatenate([sds, sds])
    weight = np.zeros(xyz.shape[1:])
    for centre, sd in zip(centres, sds):
        d2 = (((xyz - centre[:, None, None, None]) / sd[:, None, None, None]) ** 2).sum(0)
        weight = np.maximum(weight, np.exp(-0.5 * d2))
    return weight


def dark_fraction(volumes: np.ndarray, region: np.ndarray, threshold: float) -> np.ndarray:
    """Share of the voxels of ``region`` (bool (D, H, W)) darker than ``threshold``, per volume: (N,).

    Raises ``ValueError`` for an empty region (the region lies outside the grid).
    """
    region = np.asarray(region, dtype=bool)
    if not region.any():
        raise ValueError("dark_fraction: the region holds no voxel of the grid")
    volumes = np.asarray(volumes)
    if volumes.shape[1:] != region.shape:
        raise ValueError(f"dark_fraction: volumes {volumes.shape[1:]} and region {region.shape} differ in shape")
    return (volumes[:, region] < threshold).mean(axis=1)


def mean_intensity(volumes: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Mean intensity of each volume (N, D, H, W) inside ``region`` (bool (D, H, W)): (N,)."""
    region = np.asarray(region, dtype=bool)
    if not region.any():
        raise ValueError("mean_intensity: the region holds no voxel of the grid")
    return np.asarray(volumes)[:, region].mean(axis=1, dtype=np.float64)
