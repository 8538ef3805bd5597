"""A QC check that sees rotations: is the judged pose the best one within reach of other starts?

The head-fit score (:mod:`medaug.preprocess.head_qc`) cannot see a rotation about the brain centre:
the brain stays inside the head with the same scalp margin. A registration caught in a wrong local
optimum, pitched 15 degrees nose-up on a real defaced head, passes it. This check asks a different
question of the judged transform, without reusing anything of the registration that produced it
(its start, its N4-corrected image, its intermediate files):

1. the native image (neck cropped as t1-linear does, no bias correction) and the template are
   resampled to ``registration_spacing_mm``;
2. ANTs' affine registration (the t1-linear schedule) runs from the judged pose itself and from
   the judged pose rotated by each of ``PERTURBATIONS_DEG`` (pitch, roll, yaw; degrees) about the
   template brain centre;
3. every converged pose and the judged pose are scored by Mattes mutual information inside the
   template's dilated brain mask (:func:`medaug.preprocess.t1_linear.registration_score`). When the
   check's grid is coarser than the registration's, the poses that beat the judged one there are
   scored again, with the judged pose, on the registration's own grid, and only a pose that still
   wins there counts. On the demo the 6 mm score alone preferred a pose 3-17 mm away (rolled 1-9
   degrees) for 4 of 220 images whose true error was under 1 mm; on the 3 mm grid the judged pose
   scored 0.53-0.61 against 0.31-0.52 (ITK's jittered regular sampling, before the scores were
   computed densely in numpy, :mod:`medaug.preprocess.mattes`);
4. the distance from the judged pose to the best-scoring pose is the mean distance (mm) between the
   two maps over the template brain mask; its rotation angle names the axis that dominates.

A correct pose is a local optimum that the perturbed starts fall back into (or that scores better
than where they land): the distance is about 1 mm. A pose rotated 15 degrees away from the right
one is left by the start that undoes the rotation, which lands on the right pose with a better
score: the distance is 10+ mm. The judged pose is flagged when the distance exceeds ``MAX_POSE_MM``.

The check uses the registration's metric: it finds a better optimum that the registration missed,
not an optimum of a wrong metric. It costs one coarse registration per start (about 0.5 s each at
3 mm, 0.1-0.2 s at the demo's 6 mm) plus the resampling; the scores cost milliseconds each.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

PERTURBATIONS_DEG: tuple[tuple[float, float, float], ...] = (
    (0.0, 0.0, 0.0), (15.0, 0.0, 0.0), (-15.0, 0.0, 0.0), (0.0, 15.0, 0.0), (0.0, -15.0, 0.0),
    (0.0, 0.0, 15.0), (0.0, 0.0, -15.0),
)
"""(pitch, roll, yaw) degrees by which the judged pose is rotated about the template brain centre."""

MAX_POSE_MM = 3.0
"""A best-scoring pose further than this (mean over the template brain mask, mm) flags the judged one."""

MIN_SCORE_GAIN = 0.002
"""A pose must beat the judged one's Mattes score by this much to count as better (ties keep the judged pose)."""


@dataclass(frozen=True)
class PoseCheck:
    """Outcome of :func:`pose_check`.

    Attributes:
        distance_mm: mean distance (mm) over the template brain mask between the judged pose and the
            best-scoring pose found (0 when the judged pose scores best).
        angle_deg: rotation angle (degrees) between the two poses.
        axis: ``"pitch"``, ``"roll"`` or ``"yaw"``: the rotation axis' largest component
            (left-right, front-back, up-down), ``""`` when the angle is under 1 degree.
        score_gain: Mattes score of the best pose minus that of the judged pose (>= 0).
        best_pose: the best-scoring template-to-native map (4x4, RAS mm) when it is not the judged
            one, else ``None``; a start for a new registration (see :mod:`medaug.preprocess.pool`).
    """

    distance_mm: float
    angle_deg: float
    axis: str
    score_gain: float
    best_pose: np.ndarray | None = None


def pose_distance_mm(a: np.ndarray, b: np.ndarray, points_mm: np.ndarray) -> float:
    """Mean distance (mm) between the images of ``points_mm`` (3, N) under two 4x4 maps."""
    difference = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    return float(np.linalg.norm(difference[:3, :3] @ points_mm + difference[:3, 3:4], axis=0).mean())


def rotation_between(a: np.ndarray, b: np.ndarray) -> tuple[float, str]:
    """(angle in degrees, dominant axis name) of the rotation part of ``inv(b) @ a`` (4x4 affine maps).

    The rotation is the orthogonal factor of the polar decomposition, so scaling and shear are left out.
    """
    linear = np.linalg.solve(np.asarray(b, dtype=float)[:3, :3], np.asarray(a, dtype=float)[:3, :3])
    u, _, vt = np.linalg.svd(linear)
    rotation = u @ vt
    if np.linalg.det(rotation) < 0:  # not a rotation (a flip): report the largest possible angle
        return 180.0, ""
    angle = float(np.degrees(np.arccos(np.clip((np.trace(rotation) - 1.0) / 2.0, -1.0, 1.0))))
    axis_vector = np.array([rotation[2, 1] - rotation[1, 2], rotation[0, 2] - rotation[2, 0],
                            rotation[1, 0] - rotation[0, 1]])
    axis = ("pitch", "roll", "yaw")[int(np.argmax(np.abs(axis_vector)))] if angle >= 1.0 else ""
    return round(angle, 2), axis


def check_config(config):
    """The registration ``config`` with its grid and schedule replaced by its ``pose_check_*`` ones."""
    import dataclasses

    return dataclasses.replace(
        config, registration_spacing_mm=config.pose_check_spacing_mm,
        shrink_factors=config.pose_check_shrink_factors, smoothing_sigmas_mm=config.pose_check_smoothing_sigmas_mm,
        iterations=config.pose_check_iterations)


def pose_check(native: nib.Nifti1Image, native_from_template: np.ndarray, config, workdir: Path,
               perturbations_deg=PERTURBATIONS_DEG) -> PoseCheck:
    """Check the judged template-to-native map (4x4, RAS mm) of ``native`` (see the module docstring).

    ``config`` is the :class:`~medaug.preprocess.t1_linear.T1LinearConfig` of the registration
    (its metric mask and neck crop; its ``pose_check_*`` grid and schedule, see :func:`check_config`);
    temporary files go to ``workdir``. Without ``config.pose_check_from_judged`` the unturned
    start (0, 0, 0) of ``perturbations_deg`` is skipped.
    """
    from medaug.preprocess.fov import crop_neck
    from medaug.preprocess.head_qc import template_rays
    from medaug.preprocess.t1_linear import (
        _resample_isotropic,
        _targets,
        nifti_to_ants,
        register_affine,
        registration_score,
        rotation_about,
        write_affine,
    )
    from medaug.preprocess.t1_linear import (
        native_from_template as read_affine,
    )

    coarse = check_config(config)
    targets = _targets(coarse)
    image = native
    if coarse.neck_crop_mm:
        image, _ = crop_neck(native, coarse.neck_crop_mm, coarse.neck_threshold_fraction)
    moving = _resample_isotropic(nifti_to_ants(image), coarse.registration_spacing_mm)
    fixed, mask = targets.registration_fixed, targets.registration_mask
    judged = np.asarray(native_from_template, dtype=float)
    judged_file = write_affine(judged, workdir / "posecheck_judged.mat")
    judged_score = registration_score(fixed, moving, mask, judged_file)
    centre = template_rays(coarse.template_resolution_mm)[0]
    better = []  # (score on the check grid, transform file) of the poses that beat the judged one
    for k, (pitch, roll, yaw) in enumerate(perturbations_deg):
        if not coarse.pose_check_from_judged and pitch == roll == yaw == 0:
            continue
        start = write_affine(judged @ rotation_about(centre, pitch, roll, yaw), workdir / f"posecheck_{k}_init.mat")
        transform = register_affine(fixed, moving, mask, coarse, workdir, initial_file=start, prefix=f"posecheck_{k}_")
        score = registration_score(fixed, moving, mask, transform)
        if score > judged_score + MIN_SCORE_GAIN:
            better.append((score, transform))
    if better and coarse.registration_spacing_mm > config.registration_spacing_mm:
        judged_score, better = _rescored_on_registration_grid(image, judged_file, better, config)
    best_pose, best_score = judged, judged_score
    for score, transform in better:  # in the order of the starts, each must beat the best so far
        if score > best_score + MIN_SCORE_GAIN:
            best_pose, best_score = read_affine(transform), score
    brain = targets.cropped_template.brain_mask
    affine = np.asarray(brain.affine, dtype=float)
    points = affine[:3, :3] @ np.argwhere(np.asarray(brain.dataobj) > 0)[::50].T + affine[:3, 3:4]
    angle, axis = rotation_between(best_pose, judged)
    return PoseCheck(round(pose_distance_mm(best_pose, judged, points), 2), angle, axis,
                     round(max(0.0, best_score - judged_score), 4), None if best_pose is judged else best_pose)


def _rescored_on_registration_grid(image: nib.Nifti1Image, judged_file: Path, better: list, config):
    """(judged score, [(score, transform file)] of the poses that still beat it) on the grid of the
    registration ``config`` (``registration_spacing_mm``), for poses found on a coarser check grid."""
    from medaug.preprocess.t1_linear import _resample_isotropic, _targets, nifti_to_ants, registration_score

    fine = _targets(config)
    moving = _resample_isotropic(nifti_to_ants(image), config.registration_spacing_mm)
    judged_score = registration_score(fine.registration_fixed, moving, fine.registration_mask, judged_file)
    rescored = [(registration_score(fine.registration_fixed, moving, fine.registration_mask, transform), transform)
                for _, transform in better]
    return judged_score, [(score, transform) for score, transform in rescored if score > judged_score + MIN_SCORE_GAIN]


def pose_check_reason(distance_mm: float, angle_deg: float, axis: str, max_mm: float = MAX_POSE_MM) -> str:
    """Why a pose check fails QC, or ``""`` when it passes (or is NaN: not checked)."""
    if not distance_mm > max_mm:
        return ""
    turn = f"{angle_deg:.0f} deg {axis}".strip() if axis else f"{angle_deg:.0f} deg"
    return (f"pose check {distance_mm:.1f} mm > {max_mm:g} mm (a registration from another start scores "
            f"better; rotated {turn} from this one)")
