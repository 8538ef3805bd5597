"""A second QC score that does not depend on the registration's own metric: does the brain fit the head?

NCC with the template (:mod:`medaug.preprocess.qc`) judges a registration with the similarity it
was optimised for, on the template grid. This score judges it in native space, against the image
alone: the template brain mask, mapped to the native image by the estimated transform, must sit
inside the head with a plausible layer of CSF, skull and scalp above it.

From the centre of the template brain mask, ``RAY_COUNT`` rays leave in directions spread evenly
(a Fibonacci lattice) over the upper part of the sphere, at least ``MIN_ELEVATION_DEG`` above the
template's axial plane (the cranial vault: above the skull base, so the face and the neck never
enter). Along each ray, in template mm:

- ``brain_mm``: where the ray leaves the template brain mask;
- ``head_mm``: the last point, within ``SEARCH_MM`` beyond the brain, where the native image
  (sampled through the transform) is brighter than ``threshold_fraction`` of its 99th intensity
  percentile for two consecutive 1 mm samples: the outside of the scalp. An intensity-based head
  estimate, independent of the template's intensities.

The margin ``head_mm - brain_mm`` is the thickness of CSF, skull and scalp above the brain, in
template mm: about 10-25 mm on real adult heads (14-15 mm on the demo heads). A ray whose head
reaches the edge of the field of view is unknown and left out. Two fractions of the known rays:

- ``in_range``: margin within ``MARGIN_RANGE_MM``. A brain mapped too small (the neck pulled the
  fit: margins of 35-55 mm at a scale of 0.8-0.7) or too large fails it;
- ``consistent``: margin within ``SPREAD_MM`` of the median margin. A brain shifted sideways in the
  head (thin on one side, thick on the other) fails it.

The score is the smaller of the two; :func:`head_fit_reason` turns it into a QC decision. Measured
on two 1 mm demo heads with a neck and the true pose perturbed: true pose 1.00; scale 0.8 about the
brain centre 0.00 (median margin 53 mm), scale 0.85 0.44-0.49, scale 1.15 0.73-0.83; shifts of
20 mm sideways 0.54-0.59, down 0.62-0.66, of 15 mm up 0.69-0.78; a rotation of 20 degrees about the
brain centre leaves the margins unchanged (0.98-0.99): the pose check of
:mod:`medaug.preprocess.pose_check`, not this score, judges rotations.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import nibabel as nib
import numpy as np
from scipy import ndimage

RAY_COUNT = 160
MIN_ELEVATION_DEG = 20.0
SEARCH_MM = 60.0
"""How far (template mm) beyond the brain surface each ray looks for the outside of the head."""
MARGIN_RANGE_MM: tuple[float, float] = (2.0, 30.0)
"""Accepted thickness (template mm) of CSF + skull + scalp above the brain mask."""
SPREAD_MM = 10.0
"""A margin further than this (template mm) from the median margin is inconsistent."""
MIN_HEAD_FIT = 0.75
"""A head-fit score below this flags the image."""
MIN_KNOWN_RAYS = 0.25
"""With fewer known rays than this fraction of ``RAY_COUNT`` (head cut by the field of view), no score."""


@dataclass(frozen=True)
class HeadFit:
    """The head-fit score of one registered image.

    Attributes:
        score: ``min(in_range, consistent)`` (NaN: too few known rays).
        in_range: fraction of the known rays whose margin lies in ``MARGIN_RANGE_MM``.
        consistent: fraction of the known rays whose margin lies within ``SPREAD_MM`` of the median.
        median_margin_mm: median margin over the known rays (template mm; NaN: none known).
        known_rays: rays whose outside of the head lies inside the field of view.
    """

    score: float
    in_range: float
    consistent: float
    median_margin_mm: float
    known_rays: int


def upper_directions(count: int = RAY_COUNT, min_elevation_deg: float = MIN_ELEVATION_DEG) -> np.ndarray:
    """(count, 3) unit vectors spread evenly over the cap of the sphere above ``min_elevation_deg``."""
    low = np.sin(np.deg2rad(min_elevation_deg))
    k = np.arange(count) + 0.5
    z = low + (1.0 - low) * k / count  # uniform in z: uniform in area on the cap
    phi = k * np.pi * (3.0 - np.sqrt(5.0))  # golden angle
    r = np.sqrt(1.0 - z * z)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


@lru_cache(maxsize=2)
def template_rays(resolution_mm: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centre (3,) mm, directions (K, 3), brain_mm (K,)) of the rays on nilearn's template brain mask."""
    from medaug.preprocess.template import load_template

    mask_image = load_template(resolution_mm).brain_mask
    mask = np.asarray(mask_image.dataobj) > 0
    affine = np.asarray(mask_image.affine, dtype=float)
    centre = affine[:3, :3] @ np.argwhere(mask).mean(axis=0) + affine[:3, 3]
    directions = upper_directions()
    t = np.arange(0.0, 150.0, 1.0)
    points = centre[None, None, :] + t[None, :, None] * directions[:, None, :]  # (K, T, 3)
    voxels = np.rint((points - affine[:3, 3]) @ np.linalg.inv(affine[:3, :3]).T).astype(int)
    inside_grid = np.all((voxels >= 0) & (voxels < np.asarray(mask.shape)), axis=2)
    clipped = np.clip(voxels, 0, np.asarray(mask.shape) - 1)
    in_brain = mask[clipped[..., 0], clipped[..., 1], clipped[..., 2]] & inside_grid
    brain_mm = np.array([t[np.flatnonzero(row)].max() if row.any() else 0.0 for row in in_brain])
    return centre, directions, brain_mm


def head_fit(native: nib.Nifti1Image, native_from_template: np.ndarray, threshold_fraction: float = 0.2,
             resolution_mm: int = 1) -> HeadFit:
    """Score how well the template brain, mapped by ``native_from_template`` (4x4, RAS mm), fits the head.

    ``native`` is the input image (any orientation and field of view, not bias corrected).
    """
    data = np.asarray(native.dataobj, dtype=np.float32)
    high = float(np.percentile(data[::3, ::3, ::3], 99.0))
    centre, directions, brain_mm = template_rays(resolution_mm)
    step = 1.0
    t = np.arange(0.0, float(brain_mm.max()) + SEARCH_MM + step, step)
    points = centre[None, None, :] + t[None, :, None] * directions[:, None, :]  # (K, T, 3) template mm
    voxel_from_template = np.linalg.inv(np.asarray(native.affine, dtype=float)) @ np.asarray(native_from_template)
    coords = points @ voxel_from_template[:3, :3].T + voxel_from_template[:3, 3]
    inside = np.all((coords >= -0.5) & (coords <= np.asarray(data.shape) - 0.5), axis=2)
    values = ndimage.map_coordinates(data, coords.reshape(-1, 3).T, order=1, mode="nearest").reshape(inside.shape)
    bright = (values > threshold_fraction * high) & inside
    head = bright & np.roll(bright, 1, axis=1)  # two consecutive samples: not a noise spike
    head[:, 0] = bright[:, 0]
    margins = []
    for k in range(len(directions)):
        limit = brain_mm[k] + SEARCH_MM
        in_range = t <= limit
        outside = np.flatnonzero(~inside[k] & in_range)
        exit_mm = t[outside[0]] if outside.size else np.inf
        found = np.flatnonzero(head[k] & in_range & (t < exit_mm))
        last = t[found[-1]] if found.size else 0.0
        if exit_mm - last <= 3.0 * step:  # the head reaches the edge of the field of view: unknown
            continue
        margins.append(last - brain_mm[k])
    return margin_score(np.asarray(margins), len(directions))


def margin_score(margins_mm: np.ndarray, ray_count: int = RAY_COUNT) -> HeadFit:
    """:class:`HeadFit` of the margins (template mm) of the known rays out of ``ray_count``."""
    known = int(margins_mm.size)
    if known == 0:
        return HeadFit(float("nan"), float("nan"), float("nan"), float("nan"), 0)
    low, high = MARGIN_RANGE_MM
    median = float(np.median(margins_mm))
    in_range = float(np.mean((margins_mm >= low) & (margins_mm <= high)))
    consistent = float(np.mean(np.abs(margins_mm - median) <= SPREAD_MM))
    score = min(in_range, consistent) if known >= MIN_KNOWN_RAYS * ray_count else float("nan")
    return HeadFit(round(score, 4), round(in_range, 4), round(consistent, 4), round(median, 2), known)


def head_fit_reason(score: float, median_margin_mm: float, min_score: float = MIN_HEAD_FIT) -> str:
    """Why a head-fit ``score`` fails QC, or ``""`` when it passes (or is NaN: not scored)."""
    if not score < min_score:
        return ""
    low, high = MARGIN_RANGE_MM
    if median_margin_mm > high:
        what = "brain mapped too small or too low"
    elif median_margin_mm < low:
        what = "brain mapped too large or too high"
    else:
        what = "brain mapped off-centre in the head"
    return f"head fit {score:.2f} < {min_score:g} ({what}; median scalp margin {median_margin_mm:.0f} mm)"
