"""Subject anatomy: a backward map from the subject's anatomical frame to template space.

A subject's T1 intensity at an anatomical point ``a`` (mm, MNI-aligned, before head scaling and
pose) is the subject-specific template intensity at ``t = backward_map(a)``. The map composes

1. a smooth random displacement (inter-subject variability), a sum of low-frequency cosines;
2. a radial expansion around centres inside the lateral ventricles (ageing + AD): points are
   pulled towards each centre, so the ventricles appear larger;
3. a radial contraction around each hippocampus (AD): points are pushed away from its centre, so
   the hippocampus appears smaller and the temporal horn larger.

Both radial maps ``r -> r (1 -+ g exp(-r^2 / 2 s^2))`` are monotone (fold-free) for the parameter
ranges :func:`draw_anatomy` allows (expansion g <= 0.35 per centre, as several centres overlap; contraction g < 2). Intensity atrophy (grey
matter moving towards CSF) is applied to the template maps by :func:`subject_intensity`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medaug.cohort.atlas import (
    HIPPOCAMPUS_SHRINK_SD_MM,
    MTL_REGIONS,
    VENTRICLE_SD_MM,
    TemplateAtlas,
    gaussian_weight,
    within_box,
)
from medaug.cohort.config import AnatomyConfig

N_COSINES = 3
"""Cosine basis functions per axis of the random displacement (frequencies k / (3 wavelength))."""

CHUNK_POINTS = 8192
"""Points per chunk of :func:`smooth_displacement`: sets memory and speed (the products fit in a CPU
cache), not the result beyond float32 rounding."""

RADIAL_CUTOFF_SD = 5.0
"""A radial map moves only points within this many sds of its centre on every axis.

Outside that box the Mahalanobis distance is m >= 5, so the dropped displacement
``|g| exp(-m^2 / 2) m sd_max`` is below 1.9e-5 |g| sd_max: 1.4e-4 mm for a hippocampus (g <= 0.6,
sd_max 12 mm), 6e-5 mm for a ventricle centre (g <= 0.35, sd_max 9 mm). Composed (each map is
Lipschitz with a constant below 1.16 for the ventricles, 1.6 for the hippocampi), the error of
:func:`backward_map` stays below ``RADIAL_TRUNCATION_ERROR_MM``.
"""

RADIAL_TRUNCATION_ERROR_MM = 0.003
"""Bound on the displacement that ``RADIAL_CUTOFF_SD`` drops from :func:`backward_map` (mm)."""


@dataclass(frozen=True)
class SubjectAnatomy:
    """Anatomical parameters of one subject at one session.

    Attributes:
        head_scale: (3,) per-axis scaling of the head relative to the template.
        gm_loss: fraction of grey-matter contrast lost to CSF everywhere.
        mtl_loss: additional fraction lost in the medial temporal lobe.
        mtl_shrink: peak radial contraction around each hippocampus.
        ventricle_growth: peak radial expansion around each lateral ventricle.
        displacement_coefficients: (3, K, K, K) amplitudes (mm) of the cosine displacement.
        displacement_phases: (3, K) phases (radians) of the basis along x, y, z.
        wavelength_mm: shortest wavelength of the displacement.
    """

    head_scale: np.ndarray
    gm_loss: float
    mtl_loss: float
    mtl_shrink: float
    ventricle_growth: float
    displacement_coefficients: np.ndarray
    displacement_phases: np.ndarray
    wavelength_mm: float


def atrophy_amounts(age: float, severity: float, config: AnatomyConfig) -> dict[str, float]:
    """Atrophy of ageing (per decade over ``config.age_reference``) plus AD (times ``severity``)."""
    decades = max(age - config.age_reference, 0.0) / 10.0
    return {
        "gm_loss": float(np.clip(config.gm_loss_per_decade * decades + config.ad_gm_loss * severity, 0, 0.8)),
        "mtl_loss": float(np.clip(config.ad_mtl_loss * severity, 0, 0.9)),
        "mtl_shrink": float(np.clip(config.ad_mtl_shrink * severity, 0, 0.6)),
        "ventricle_growth": float(
            np.clip(config.ventricle_growth_per_decade * decades + config.ad_ventricle_growth * severity, 0, 0.35)
        ),
    }


def draw_anatomy(
    rng: np.random.Generator, sex: str, age: float, severity: float, config: AnatomyConfig
) -> SubjectAnatomy:
    """Draw one subject's anatomy. The random parts (head size, displacement) come from ``rng``."""
    scale = config.head_scale_mean[sex] + config.head_scale_sd * rng.standard_normal()
    head_scale = scale * (1.0 + 0.01 * rng.standard_normal(3))  # slight anisotropy
    # Each point's displacement sums K^3 products of cosines whose squares average 1/2 each.
    amplitude = config.deformation_mm / (N_COSINES / 2.0) ** 1.5
    coefficients = amplitude * rng.standard_normal((3, N_COSINES, N_COSINES, N_COSINES))
    phases = rng.uniform(0, 2 * np.pi, size=(3, N_COSINES))
    return SubjectAnatomy(
        head_scale=head_scale.astype(np.float64),
        displacement_coefficients=coefficients.astype(np.float32),
        displacement_phases=phases.astype(np.float32),
        wavelength_mm=config.deformation_wavelength_mm,
        **atrophy_amounts(age, severity, config),
    )


def smooth_displacement(points: np.ndarray, anatomy: SubjectAnatomy) -> np.ndarray:
    """Random smooth displacement (mm) at ``points`` (3, N) mm: returns (3, N) float32.

    Component ``c`` at a point is ``sum_abk C[c, a, b, k] cos_a(x) cos_b(y) cos_k(z)``: the K^3 basis
    products of a chunk of points are formed once and contracted with all three components in one
    matrix product; chunks keep the (K^3, chunk) products in the CPU cache.
    """
    n_basis = N_COSINES ** 3
    freqs = np.arange(1, N_COSINES + 1, dtype=np.float32) * np.float32(2 * np.pi / (N_COSINES * anatomy.wavelength_mm))
    coefficients = anatomy.displacement_coefficients.reshape(3, n_basis)
    phases = anatomy.displacement_phases[:, :, None]
    out = np.empty(points.shape, dtype=np.float32)
    for start in range(0, points.shape[1], CHUNK_POINTS):
        chunk = points[:, start:start + CHUNK_POINTS].astype(np.float32, copy=False)
        basis = np.cos(freqs[None, :, None] * chunk[:, None, :] + phases)  # (3, K, n): per axis
        xy = basis[0][:, None, :] * basis[1][None, :, :]  # (K, K, n)
        products = (xy[:, :, None, :] * basis[2][None, None, :, :]).reshape(n_basis, -1)
        np.matmul(coefficients, products, out=out[:, start:start + chunk.shape[1]])
    return out


def _radial(points: np.ndarray, centre, sd, gain: float) -> np.ndarray:
    """points + gain * w(points) * (points - centre) where the Gaussian weight w around ``centre`` (sd
    ``sd`` mm per axis) matters: only points within ``RADIAL_CUTOFF_SD`` sds on every axis move.

    Args:
        points: (3, N) float32 mm; not modified.

    Returns:
        (3, N) float32 mm.
    """
    centre = np.asarray(centre, dtype=np.float32)
    reach = RADIAL_CUTOFF_SD * np.asarray(sd, dtype=np.float32)
    near = within_box(points, centre - reach, centre + reach)
    local = np.take(points, near, axis=1)
    weight = gaussian_weight(local, centre, sd) * np.float32(gain)
    return _set_columns(points.copy(), near, local + weight[None, :] * (local - centre[:, None]))


def _set_columns(points: np.ndarray, index: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``points`` (3, N) with columns ``index`` (M,) set to ``values`` (3, M), in place; row by row,
    which numpy does several times faster than ``points[:, index] = values``."""
    for axis in range(3):
        points[axis, index] = values[axis]
    return points


def radial_maps(anatomy: SubjectAnatomy, ventricle_centres_mm: np.ndarray) -> list[tuple[np.ndarray, tuple, float]]:
    """The radial maps of :func:`backward_map`, in the order they apply: (centre (3,) mm, sd (3,) mm, gain)."""
    maps = []
    if anatomy.ventricle_growth > 0:
        maps += [(np.asarray(c, dtype=np.float32), VENTRICLE_SD_MM, -anatomy.ventricle_growth)
                 for c in ventricle_centres_mm]
    if anatomy.mtl_shrink > 0:
        hx, hy, hz = MTL_REGIONS["hippocampus"][0]
        maps += [(np.array([side * hx, hy, hz], dtype=np.float32), HIPPOCAMPUS_SHRINK_SD_MM, anatomy.mtl_shrink)
                 for side in (-1.0, 1.0)]
    return maps


def radial_reach(maps: list[tuple[np.ndarray, tuple, float]]) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi), each (3,) mm: the box holding every point that one of the radial ``maps`` moves."""
    reach = [RADIAL_CUTOFF_SD * np.asarray(sd, dtype=np.float32) for _, sd, _ in maps]
    lo = np.min([centre - r for (centre, _, _), r in zip(maps, reach)], axis=0)
    hi = np.max([centre + r for (centre, _, _), r in zip(maps, reach)], axis=0)
    return lo, hi


def smooth_backward_map(points: np.ndarray, anatomy: SubjectAnatomy) -> np.ndarray:
    """First part of :func:`backward_map`: ``points`` (3, N) mm minus the smooth displacement, float32."""
    out = points.astype(np.float32, copy=True)
    out -= smooth_displacement(out, anatomy)
    return out


def radial_backward_map(points: np.ndarray, maps: list[tuple[np.ndarray, tuple, float]]) -> np.ndarray:
    """Second part of :func:`backward_map`: the radial ``maps`` (:func:`radial_maps`) applied in turn
    to ``points`` (3, N) float32 mm, which are modified in place and returned."""
    if not maps:
        return points
    # A point outside every map's box is moved by none of them: work on the points inside their union.
    near = within_box(points, *radial_reach(maps))
    moved = np.take(points, near, axis=1)
    for centre, sd, gain in maps:
        moved = _radial(moved, centre, sd, gain)
    return _set_columns(points, near, moved)


def backward_map(points: np.ndarray, anatomy: SubjectAnatomy, ventricle_centres_mm: np.ndarray) -> np.ndarray:
    """Template mm coordinates of subject anatomical points.

    The radial maps only move points within ``RADIAL_CUTOFF_SD`` sds of their centres; the result
    differs from the untruncated maps by less than ``RADIAL_TRUNCATION_ERROR_MM``.

    Args:
        points: (3, N) anatomical mm coordinates.
        anatomy: the subject.
        ventricle_centres_mm: (K, 3) expansion centres (``TemplateAtlas.ventricle_centres_mm``).

    Returns:
        (3, N) float32 template mm coordinates.
    """
    return radial_backward_map(smooth_backward_map(points, anatomy), radial_maps(anatomy, ventricle_centres_mm))


def subject_intensity(atlas: TemplateAtlas, anatomy: SubjectAnatomy) -> tuple[np.ndarray, np.ndarray]:
    """The subject's template-space T1 intensity inside the atlas head box.

    Returns:
        intensity: (x, y, z) float32 crop of ``base - gm_loss * gm_contrast - mtl_loss * mtl_contrast``.
        offset: (3,) voxel index of the crop's first voxel on the atlas grid.
    """
    box = tuple(slice(lo, hi) for lo, hi in atlas.head_box)
    intensity = np.multiply(atlas.gm_contrast[box], np.float32(-anatomy.gm_loss))
    intensity += atlas.base[box]  # = base - gm_loss * gm_contrast, bit for bit, without a temporary
    if anatomy.mtl_loss > 0:
        mtl = tuple(slice(lo - h_lo, hi - h_lo) for (lo, hi), (h_lo, _) in zip(atlas.mtl_box, atlas.head_box))
        mtl_src = tuple(slice(lo, hi) for lo, hi in atlas.mtl_box)
        intensity[mtl] -= np.float32(anatomy.mtl_loss) * atlas.mtl_contrast[mtl_src]
    np.clip(intensity, 0.0, None, out=intensity)
    return intensity, atlas.head_box[:, 0].copy()
