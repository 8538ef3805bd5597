"""Affine poses as 4x4 RAS maps and as ANTs/ITK ``.mat`` files (LPS), and rotations about a centre.

ANTs uses LPS world coordinates and nibabel RAS; every map here is template point -> native point
in RAS mm, the convention of the generator's ground truth ``world_from_mni``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

_RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def write_affine(native_from_template_ras: np.ndarray, path: Path) -> Path:
    """Write a template-to-native map (4x4, RAS mm) as an ANTs/ITK affine ``.mat`` file; returns ``path``."""
    import ants

    lps = _RAS_TO_LPS @ np.asarray(native_from_template_ras, dtype=float) @ _RAS_TO_LPS
    transform = ants.create_ants_transform(transform_type="AffineTransform", dimension=3,
                                           matrix=lps[:3, :3], translation=lps[:3, 3])
    ants.write_transform(transform, str(path))
    return Path(path)


def rotation_about(centre_ras: np.ndarray, pitch_deg: float, roll_deg: float, yaw_deg: float = 0.0) -> np.ndarray:
    """4x4 rotation (RAS mm) about ``centre_ras``: pitch about x (left-right), roll about y, yaw about z.

    Applied in the order x, y, z; a positive pitch turns +y (anterior) towards +z (superior).
    """
    ax, ay, az = np.deg2rad([pitch_deg, roll_deg, yaw_deg])
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    rotation = np.eye(4)
    rotation[:3, :3] = rz @ ry @ rx
    centre = np.asarray(centre_ras, dtype=float)
    rotation[:3, 3] = centre - rotation[:3, :3] @ centre
    return rotation


def native_from_template(transform_file: str | Path) -> np.ndarray:
    """The 4x4 affine (RAS mm) that maps a template point to the native image point it was sampled from.

    ANTs writes the moving image's forward transform as ``y = A (x - c) + c + t`` in LPS mm; this is
    that map converted to RAS, directly comparable with a ground-truth ``world_from_mni``.
    """
    import ants

    transform = ants.read_transform(str(transform_file))
    params = np.asarray(transform.parameters, dtype=float)
    center = np.asarray(transform.fixed_parameters, dtype=float)
    matrix = params[:9].reshape(3, 3)
    lps = np.eye(4)
    lps[:3, :3] = matrix
    lps[:3, 3] = params[9:12] + center - matrix @ center
    return _RAS_TO_LPS @ lps @ _RAS_TO_LPS
