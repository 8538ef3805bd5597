"""Acquisition: native voxel grid, head pose, bias field, site contrast and Rician noise.

World coordinates (mm) are the scanner's. The head pose maps the subject's anatomical frame (MNI
aligned, template-sized) to world: ``world = pose @ diag(head_scale) @ anatomical``.
"""

from __future__ import annotations

import numpy as np

from medaug.cohort.config import AcquisitionConfig, SiteConfig

BIAS_LENGTH_MM = 100.0
"""Length unit of the bias-field polynomial: a coefficient of s gives exp(s) at 100 mm."""


def rotation_matrix(angles_rad: np.ndarray) -> np.ndarray:
    """(3, 3) rotation about x, then y, then z by ``angles_rad`` (3,) radians."""
    ax, ay, az = angles_rad
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def draw_pose(rng: np.random.Generator, config: AcquisitionConfig) -> np.ndarray:
    """A random rigid pose (4, 4): rotations uniform in +-rotation_deg, shifts in +-translation_mm."""
    angles = np.deg2rad(rng.uniform(-config.rotation_deg, config.rotation_deg, size=3))
    pose = np.eye(4)
    pose[:3, :3] = rotation_matrix(angles)
    pose[:3, 3] = rng.uniform(-config.translation_mm, config.translation_mm, size=3)
    return pose


def orientation_axes(orientation: str, voxel_mm: np.ndarray) -> np.ndarray:
    """(3, 3) voxel-to-world linear part for a nibabel axis code and per-world-axis voxel sizes (mm).

    Column ``i`` is voxel axis ``i``: e.g. ``PSL`` stores anterior-to-posterior, then inferior-to-
    superior, then right-to-left; ``voxel_mm`` (x, y, z) gives the voxel size along each world axis.
    """
    axes = np.zeros((3, 3))
    for column, letter in enumerate(orientation):
        world_axis = next(i for i, pair in enumerate(("RL", "AP", "SI")) if letter in pair)
        axes[world_axis, column] = voxel_mm[world_axis] * (1.0 if letter in "RAS" else -1.0)
    return axes


def native_grid(
    rng: np.random.Generator, config: AcquisitionConfig, site: SiteConfig
) -> tuple[tuple[int, int, int], np.ndarray]:
    """Shape (voxels) and voxel-to-world affine (4, 4) of the native image.

    The field of view (``field_of_view_mm``, or ``neck_field_of_view_mm`` moved by
    ``neck_fov_shift_mm`` along world z at a site with a neck) is centred near the world origin,
    moved by up to ``fov_offset_mm`` per axis, stored in the site's orientation (RAS, LAS, PSL, ...).
    """
    voxel = np.asarray(config.voxel_size_mm, dtype=np.float64) * np.asarray(site.voxel_aspect)
    field_of_view = np.asarray(config.neck_field_of_view_mm if site.neck else config.field_of_view_mm, dtype=np.float64)
    axes = orientation_axes(site.orientation, voxel)
    world_axis = np.abs(axes).argmax(axis=0)  # world axis of each voxel axis
    shape = tuple(int(np.ceil(field_of_view[w] / voxel[w])) for w in world_axis)
    centre = rng.uniform(-config.fov_offset_mm, config.fov_offset_mm, size=3)
    if site.neck:
        centre[2] += config.neck_fov_shift_mm
    affine = np.eye(4)
    affine[:3, :3] = axes
    affine[:3, 3] = centre - axes @ ((np.asarray(shape) - 1) / 2.0)
    return shape, affine  # type: ignore[return-value]


def voxel_world_coordinates(shape: tuple[int, int, int], affine: np.ndarray) -> np.ndarray:
    """World mm coordinates of every voxel, (3, N) float32 in C order of ``shape``."""
    ijk = np.indices(shape, dtype=np.float32).reshape(3, -1)
    return affine[:3, :3].astype(np.float32) @ ijk + affine[:3, 3:].astype(np.float32)


def draw_bias_coefficients(rng: np.random.Generator, bias_std: float) -> np.ndarray:
    """(9,) coefficients of the quadratic log bias field (x, y, z, x^2, y^2, z^2, xy, xz, yz)."""
    return bias_std * rng.standard_normal(9)


def bias_field(world: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """Smooth multiplicative bias exp(quadratic polynomial) at ``world`` (3, N) mm -> (N,) float32."""
    x, y, z = (world / np.float32(BIAS_LENGTH_MM)).astype(np.float32)
    c = coefficients.astype(np.float32)
    log_bias = c[0] * x + c[1] * y + c[2] * z + c[3] * x * x + c[4] * y * y + c[5] * z * z
    log_bias += c[6] * x * y + c[7] * x * z + c[8] * y * z
    return np.exp(log_bias)


def rician_noise(signal: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Magnitude of complex Gaussian noise added to a real signal: |s + n1 + i n2|, n ~ N(0, sigma^2)."""
    real = rng.normal(0.0, sigma, size=signal.shape).astype(np.float32)
    real += signal
    imag = rng.normal(0.0, sigma, size=signal.shape).astype(np.float32)
    real *= real
    imag *= imag
    real += imag
    return np.sqrt(real, out=real)
