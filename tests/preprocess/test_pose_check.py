"""The pose check (QC that sees rotations) on generated whole-head images with a known pose.

A rotation about the brain centre leaves the head fit unchanged; the pose check must flag a planted
15-degree pitch (and roll) and pass the true pose and the pose t1-linear finds.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from medaug.preprocess import t1_linear as t1
from medaug.preprocess.head_qc import MIN_HEAD_FIT, head_fit, template_rays
from medaug.preprocess.pose_check import (
    MAX_POSE_MM,
    pose_check,
    pose_check_reason,
    rotation_between,
)
from medaug.preprocess.t1_linear import (
    cropped_template,
    native_from_template,
    rotation_about,
    scratch_directory,
)
from tests.preprocess._whole_head_cases import cases, error_mm, render_case
from tests.preprocess.test_t1_linear import COARSE


@pytest.fixture(scope="module")
def heads(repo_params):
    """Two whole-head-with-neck cases (RAS, LAS) rendered at 4 mm: (image, world_from_mni)."""
    return [render_case(case, repo_params["cohort"], voxel_mm=4.0) for case in cases()[:2]]


@pytest.mark.parametrize(("angles", "axis"), [((15, 0, 0), "pitch"), ((0, -12, 0), "roll"), ((0, 0, 9), "yaw")])
def test_rotation_between_names_the_angle_and_axis_and_ignores_scale(angles, axis):
    centre = np.array([3.0, -20.0, 12.0])
    base = np.diag([1.1, 0.9, 1.05, 1.0])
    base[:3, 3] = (5.0, -7.0, 2.0)
    turned = base @ rotation_about(centre, *angles)
    angle, name = rotation_between(turned, base)
    assert angle == pytest.approx(max(abs(a) for a in angles), abs=0.05) and name == axis
    assert rotation_between(base, base) == (0.0, "")


def test_rotation_about_keeps_its_centre_fixed():
    centre = np.array([1.0, 2.0, 3.0])
    rotation = rotation_about(centre, 20.0, -5.0, 7.0)
    np.testing.assert_allclose(rotation[:3, :3] @ centre + rotation[:3, 3], centre)
    np.testing.assert_allclose(rotation[:3, :3] @ rotation[:3, :3].T, np.eye(3), atol=1e-12)


def test_pose_check_reason_says_how_far_and_which_rotation():
    assert pose_check_reason(1.2, 2.0, "pitch") == ""
    assert pose_check_reason(float("nan"), float("nan"), "") == ""
    reason = pose_check_reason(9.5, 15.2, "pitch")
    assert reason.startswith(f"pose check 9.5 mm > {MAX_POSE_MM:g} mm") and "15 deg pitch" in reason


def test_pose_check_passes_the_true_and_the_registered_pose(heads):
    brain = cropped_template(COARSE).brain_mask
    for image, world_from_mni in heads:
        with scratch_directory() as workdir:
            truth = pose_check(image, world_from_mni, COARSE, workdir)
            registered = native_from_template(t1.t1_linear(image, COARSE, workdir).transform_file)
            found = pose_check(image, registered, COARSE, workdir)
        assert error_mm(world_from_mni, registered, brain)[0] < 2.5
        assert truth.distance_mm <= MAX_POSE_MM, truth
        assert found.distance_mm <= MAX_POSE_MM, found


@pytest.mark.parametrize(("angles", "axis"), [((15.0, 0.0, 0.0), "pitch"), ((-15.0, 0.0, 0.0), "pitch"),
                                              ((0.0, 15.0, 0.0), "roll")])
def test_pose_check_flags_a_planted_rotation_the_head_fit_cannot_see(heads, angles, axis):
    centre = template_rays()[0]
    for image, world_from_mni in heads:
        rotated = world_from_mni @ rotation_about(centre, *angles)
        assert head_fit(image, rotated).score >= MIN_HEAD_FIT  # the head fit passes it
        with scratch_directory() as workdir:
            check = pose_check(image, rotated, COARSE, workdir)
        assert check.distance_mm > MAX_POSE_MM and check.axis == axis, check
        assert check.angle_deg > 10.0 and check.score_gain > 0, check
        assert pose_check_reason(check.distance_mm, check.angle_deg, check.axis) != ""


def _unoptimised_registrations_scored_high_on_the_check_grid(monkeypatch, check_spacing_mm: float) -> None:
    """The pose check's registrations stop where they start (its candidates are the judged pose turned
    by +-15 degrees), and on its own grid every candidate outscores the judged pose."""
    real_score = t1.registration_score

    def score(fixed, moving, mask, transform_file):
        value = real_score(fixed, moving, mask, transform_file)
        on_check_grid = moving.spacing[0] == pytest.approx(check_spacing_mm)
        return value + 1.0 if on_check_grid and Path(transform_file).name != "posecheck_judged.mat" else value

    monkeypatch.setattr(t1, "register_affine", lambda fixed, moving, mask, config, workdir, initial_file=None,
                        prefix="": Path(initial_file))
    monkeypatch.setattr(t1, "registration_score", score)


def test_a_pose_that_wins_only_on_the_coarse_check_grid_is_not_a_better_pose(heads, monkeypatch):
    """A coarse check grid only finds rotation basins: a pose it prefers counts only if it also beats
    the judged pose on the registration's own grid. The true pose, whose turned copies win on the
    check grid alone, passes; a pose pitched 15 degrees is still flagged, by the copy turned back."""
    config = dataclasses.replace(COARSE, pose_check_spacing_mm=8.0, pose_check_shrink_factors=(2, 1),
                                 pose_check_smoothing_sigmas_mm=(8.0, 4.0), pose_check_iterations=(60, 30),
                                 pose_check_from_judged=False)
    _unoptimised_registrations_scored_high_on_the_check_grid(monkeypatch, 8.0)
    image, world_from_mni = heads[0]
    pitched = world_from_mni @ rotation_about(template_rays()[0], 15.0, 0.0)
    with scratch_directory() as workdir:
        truth = pose_check(image, world_from_mni, config, workdir)
        wrong = pose_check(image, pitched, config, workdir)
    assert truth.distance_mm == 0.0 and truth.best_pose is None, truth
    assert wrong.distance_mm > MAX_POSE_MM and wrong.axis == "pitch", wrong
    # the same planted scores on a check grid as fine as the registration's are taken as they are
    same_grid = dataclasses.replace(config, pose_check_spacing_mm=COARSE.registration_spacing_mm)
    monkeypatch.undo()
    _unoptimised_registrations_scored_high_on_the_check_grid(monkeypatch, COARSE.registration_spacing_mm)
    with scratch_directory() as workdir:
        assert pose_check(image, world_from_mni, same_grid, workdir).distance_mm > MAX_POSE_MM


def test_the_demo_pose_check_schedule_still_flags_a_15_degree_pitch_and_passes_the_truth(heads, repo_params):
    """params.yaml's coarse check (6 mm grid, 60/10 iterations: fewer at 6 mm to save time) must still
    find the rotation basin: the true pose pitched 15 degrees is flagged, the true pose passes."""
    demo = repo_params["preprocess"]["t1_linear"]
    config = dataclasses.replace(COARSE, **{key: tuple(value) if isinstance(value, list) else value
                                           for key, value in demo.items() if key.startswith("pose_check_")})
    centre = template_rays()[0]
    for image, world_from_mni in heads:
        with scratch_directory() as workdir:
            pitched = pose_check(image, world_from_mni @ rotation_about(centre, 15.0, 0.0), config, workdir)
            truth = pose_check(image, world_from_mni, config, workdir)
        assert pitched.distance_mm > MAX_POSE_MM and pitched.axis == "pitch", pitched
        assert truth.distance_mm <= MAX_POSE_MM, truth
