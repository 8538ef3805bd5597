"""Synthetic whole-head T1w images with a known pose, for the preprocessing tests and benchmark.

The head is nilearn's skull-stripped MNI152 2009a template wrapped in a synthetic shell (dark CSF /
skull band, bright scalp), posed by a known affine ``world_from_mni`` (rotation, translation, head
scale), sampled on a native grid larger than the head, with a smooth multiplicative bias field and
Rician noise, stored as int16 (RAS, or LAS when ``flip_x``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage
from scipy.spatial.transform import Rotation

from medaug.preprocess.template import load_template


@lru_cache(maxsize=1)
def head_phantom() -> tuple[np.ndarray, np.ndarray]:
    """(head image float32 on the 1 mm template grid, its affine): brain + skull band + scalp."""
    template = load_template(1)
    brain = np.asarray(template.image.dataobj, dtype=np.float32)
    mask = np.asarray(template.brain_mask.dataobj) > 0
    outside_mm = ndimage.distance_transform_edt(~mask)
    head = brain.copy()
    head[(outside_mm > 0) & (outside_mm <= 3)] = 0.15  # CSF
    head[(outside_mm > 3) & (outside_mm <= 8)] = 0.05  # skull
    head[(outside_mm > 8) & (outside_mm <= 13)] = 0.75  # scalp (fat is bright on T1)
    return head, template.affine


def random_pose(rng: np.random.Generator, rotation_deg: float = 8.0, translation_mm: float = 10.0,
                scale_sd: float = 0.04) -> np.ndarray:
    """4x4 ``world_from_mni``: MNI mm -> native world mm (scaling, then rotation, then translation)."""
    rotation = Rotation.from_euler("xyz", rng.uniform(-rotation_deg, rotation_deg, 3), degrees=True).as_matrix()
    scale = np.diag(1.0 + np.clip(rng.normal(0.0, scale_sd, 3), -2 * scale_sd, 2 * scale_sd))
    pose = np.eye(4)
    pose[:3, :3] = rotation @ scale
    pose[:3, 3] = rng.uniform(-translation_mm, translation_mm, 3)
    return pose


def synthetic_t1w(seed: int, voxel_mm: float = 2.0, fov_mm: tuple[float, float, float] = (200.0, 240.0, 230.0),
                  flip_x: bool = False, noise: float = 0.03, intensity: float = 1000.0,
                  ) -> tuple[nib.Nifti1Image, np.ndarray]:
    """A posed, biased, noisy whole-head int16 image and its ``world_from_mni`` (4x4, mm)."""
    rng = np.random.default_rng(seed)
    head, head_affine = head_phantom()
    world_from_mni = random_pose(rng)
    shape = tuple(int(round(f / voxel_mm)) for f in fov_mm)
    native = np.diag([voxel_mm, voxel_mm, voxel_mm, 1.0])
    native[:3, 3] = -voxel_mm * (np.asarray(shape) - 1) / 2.0 + rng.uniform(-5, 5, 3)
    if flip_x:
        native[0, 0] = -voxel_mm
        native[0, 3] = -native[0, 3]
    head_vox_from_native_vox = np.linalg.inv(head_affine) @ np.linalg.inv(world_from_mni) @ native
    grid = np.indices(shape, dtype=np.float32).reshape(3, -1)
    coords = head_vox_from_native_vox[:3, :3] @ grid + head_vox_from_native_vox[:3, 3:4]
    data = ndimage.map_coordinates(head, coords, order=1, mode="constant", cval=0.0).reshape(shape)
    # Smooth bias field: exp of a random low-order polynomial of normalised coordinates.
    unit = [np.linspace(-1, 1, n) for n in shape]
    x, y, z = np.meshgrid(*unit, indexing="ij")
    c = rng.normal(0, 0.15, 6)
    data = data * np.exp(c[0] * x + c[1] * y + c[2] * z + c[3] * x * y + c[4] * z * z + c[5] * x * x)
    sigma = noise
    data = np.hypot(data + rng.normal(0, sigma, shape), rng.normal(0, sigma, shape))
    data = np.clip(data * intensity, 0, 32767).astype(np.int16)
    image = nib.Nifti1Image(data, native)
    image.header.set_xyzt_units("mm")
    return image, world_from_mni


def write_synthetic_t1w(path: Path, seed: int, **kwargs) -> np.ndarray:
    """Write :func:`synthetic_t1w` to ``path``; return its ``world_from_mni``."""
    image, world_from_mni = synthetic_t1w(seed, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(image, path)
    return world_from_mni
