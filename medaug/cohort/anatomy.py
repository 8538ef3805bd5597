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
)
from medaug.cohort.config import AnatomyConfig

N_COSINES = 3
"""Cosine basis functions per axis of the random displacement (frequencies k / (3 wavelength))."""


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
    """Random smooth displacement (mm) at ``points`` (3, N) mm: returns (3, N) float32."""
    freqs = np.arange(1, N_COSINES + 1, dtype=np.float32) * np.float32(2 * np.pi / (N_COSINES * anatomy.wavelength_mm))
    basis = [
        np.cos(freqs[:, None] * points[axis][None, :] + anatomy.displacement_phases[axis][:, None])
        for axis in range(3)
    ]  # each (K, N)
    out = np.zeros_like(points, dtype=np.float32)
    for component in range(3):
        coeff = anatomy.displacement_coefficients[component]
        inner = np.einsum("abc,cn->abn", coeff, basis[2])  # (K, K, N)
        inner = np.einsum("abn,bn->an", inner, basis[1])  # (K, N)
        out[component] = np.einsum("an,an->n", inner, basis[0])
    return out


def _radial(points: np.ndarray, centre, sd, gain: float) -> np.ndarray:
    """points + gain * w(points) * (points - centre), w the Gaussian weight around ``centre``."""
    centre = np.asarray(centre, dtype=np.float32)[:, None]
    weight = gaussian_weight(points, centre[:, 0], sd) * np.float32(gain)
    return points + weight[None, :] * (points - centre)


def backward_map(points: np.ndarray, anatomy: SubjectAnatomy, ventricle_centres_mm: np.ndarray) -> np.ndarray:
    """Template mm coordinates of subject anatomical points.

    Args:
        points: (3, N) anatomical mm coordinates.
        anatomy: the subject.
        ventricle_centres_mm: (K, 3) expansion centres (``TemplateAtlas.ventricle_centres_mm``).

    Returns:
        (3, N) float32 template mm coordinates.
    """
    out = points.astype(np.float32, copy=True)
    out -= smooth_displacement(out, anatomy)
    if anatomy.ventricle_growth > 0:
        for centre in ventricle_centres_mm:
            out = _radial(out, centre, VENTRICLE_SD_MM, -anatomy.ventricle_growth)
    if anatomy.mtl_shrink > 0:
        hx, hy, hz = MTL_REGIONS["hippocampus"][0]
        for side in (-1.0, 1.0):
            out = _radial(out, (side * hx, hy, hz), HIPPOCAMPUS_SHRINK_SD_MM, anatomy.mtl_shrink)
    return out


def subject_intensity(atlas: TemplateAtlas, anatomy: SubjectAnatomy) -> tuple[np.ndarray, np.ndarray]:
    """The subject's template-space T1 intensity inside the atlas head box.

    Returns:
        intensity: (x, y, z) float32 crop of ``base - gm_loss * gm_contrast - mtl_loss * mtl_contrast``.
        offset: (3,) voxel index of the crop's first voxel on the atlas grid.
    """
    box = tuple(slice(lo, hi) for lo, hi in atlas.head_box)
    intensity = atlas.base[box] - np.float32(anatomy.gm_loss) * atlas.gm_contrast[box]
    if anatomy.mtl_loss > 0:
        mtl = tuple(slice(lo - h_lo, hi - h_lo) for (lo, hi), (h_lo, _) in zip(atlas.mtl_box, atlas.head_box))
        mtl_src = tuple(slice(lo, hi) for lo, hi in atlas.mtl_box)
        intensity[mtl] -= np.float32(anatomy.mtl_loss) * atlas.mtl_contrast[mtl_src]
    np.clip(intensity, 0.0, None, out=intensity)
    return intensity, atlas.head_box[:, 0].copy()
