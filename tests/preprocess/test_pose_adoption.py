"""A better pose found by the pose check is adopted (registration redone from it) and flagged only if it still fails.

The first registration is replaced by a planted pose: the true pose pitched 15 degrees about the
template brain centre, a wrong rotation basin that the head fit cannot see. With adoption the image
ends near the true pose and passes QC; when the redone registration cannot leave the planted pose
(a genuinely bad result), the image stays flagged by the pose check.
"""

from __future__ import annotations

import dataclasses
import json

import nibabel as nib
import numpy as np
import pytest

from medaug.preprocess import caps, pool
from medaug.preprocess import t1_linear as t1
from medaug.preprocess.cohort import qc_reason
from medaug.preprocess.head_qc import MIN_HEAD_FIT, template_rays
from medaug.preprocess.pool import ImageJob, PreprocessSettings, process_image
from medaug.preprocess.t1_linear import T1LinearResult, cropped_template, native_from_template, rotation_about
from medaug.preprocess.template import TEMPLATE_SPACE
from tests.preprocess._whole_head_cases import cases, error_mm, render_case
from tests.preprocess.test_t1_linear import COARSE

FAST_CHECK = dataclasses.replace(
    COARSE, pose_check_spacing_mm=6.0, pose_check_shrink_factors=(2, 1), pose_check_smoothing_sigmas_mm=(6.0, 3.0),
    pose_check_iterations=(60, 30), pose_check_from_judged=False,
)
"""The test registration with the demo's pose check (6 mm grid, two coarse levels, no restart from the judged pose)."""


@pytest.fixture(scope="module")
def head(repo_params, tmp_path_factory):
    """(BIDS-like image path, world_from_mni) of a whole-head case with a neck, rendered at 4 mm."""
    image, world_from_mni = render_case(cases()[0], repo_params["cohort"], voxel_mm=4.0)
    path = tmp_path_factory.mktemp("head") / "sub-01_ses-M000_T1w.nii.gz"
    nib.save(image, path)
    return path, world_from_mni


def _plant(monkeypatch, planted, follow_start: bool, redone=None) -> None:
    """First registration returns ``planted``; a redone one follows its start only if ``follow_start``,
    or returns ``redone`` when given."""
    real = t1.t1_linear

    def planted_t1_linear(image, config, workdir, start_native_from_template=None):
        if start_native_from_template is not None and follow_start:
            return real(image, config, workdir, start_native_from_template)
        result = real(image, config, workdir)
        pose = redone if start_native_from_template is not None and redone is not None else planted
        return T1LinearResult(result.cropped, t1.write_affine(pose, workdir / "planted.mat"))

    monkeypatch.setattr(pool, "t1_linear", planted_t1_linear)


def _run(tmp_path, source, force=True):
    settings = PreprocessSettings(caps_dir=tmp_path / "caps", t1_linear=FAST_CHECK, target_shape=None,
                                  force=force, pose_check_max_mm=3.0)
    job = ImageJob("sub-01", "ses-M000", source)
    outcome = process_image(job, settings)
    assert outcome.status == "ok", outcome.error
    written = native_from_template(caps.affine_path(settings.caps_dir, "sub-01", "ses-M000", TEMPLATE_SPACE, 2))
    sidecar = caps.crop_sidecar_path(settings.caps_dir, "sub-01", "ses-M000", TEMPLATE_SPACE, 2)
    return outcome, written, json.loads(sidecar.read_text())


def _planted(world_from_mni):
    return world_from_mni @ rotation_about(template_rays(2)[0], 15.0, 0.0)


def test_a_planted_15_degree_pitch_is_adopted_away_and_passes(tmp_path, head, monkeypatch):
    source, world_from_mni = head
    _plant(monkeypatch, _planted(world_from_mni), follow_start=True)
    outcome, written, sidecar = _run(tmp_path, source)
    brain = cropped_template(FAST_CHECK).brain_mask
    assert error_mm(world_from_mni, written, brain)[0] < 2.0
    assert outcome.pose_adopted and sidecar == {"PoseAdopted": True}
    assert qc_reason(outcome, 0.5, MIN_HEAD_FIT, 3.0) == "", outcome
    monkeypatch.undo()
    again, _, _ = _run(tmp_path, source, force=False)  # a rerun reuses the adopted pose and says so
    assert again.reused and again.pose_adopted and again.pose_mm == outcome.pose_mm


def test_a_pose_the_registration_cannot_leave_stays_flagged(tmp_path, head, monkeypatch):
    source, world_from_mni = head
    planted = _planted(world_from_mni)
    _plant(monkeypatch, planted, follow_start=False)
    outcome, written, sidecar = _run(tmp_path, source)
    assert not outcome.pose_adopted and sidecar == {"PoseAdopted": False}
    assert abs(written - planted).max() < 1e-4  # the first pose is kept
    assert "pose check" in qc_reason(outcome, 0.5, MIN_HEAD_FIT, 3.0)


def test_a_redone_registration_that_fails_the_head_fit_is_not_adopted(tmp_path, head, monkeypatch):
    """The pose check's coarse grid can prefer a pose whose full registration maps the brain too large
    (the demo saw head fits of 0.01-0.11): such a pose must not replace the first one."""
    source, world_from_mni = head
    planted = _planted(world_from_mni)
    too_large = world_from_mni @ np.diag([1.35, 1.35, 1.35, 1.0])
    _plant(monkeypatch, planted, follow_start=False, redone=too_large)
    outcome, written, sidecar = _run(tmp_path, source)
    assert not outcome.pose_adopted and sidecar == {"PoseAdopted": False}
    assert abs(written - planted).max() < 1e-4  # the first pose is kept, and QC judges it
    assert "pose check" in qc_reason(outcome, 0.5, MIN_HEAD_FIT, 3.0)


def _first_registration_maps_the_brain_too_large(monkeypatch, world_from_mni) -> None:
    """Every registration but one from the retry starts returns a pose 35 % too large (head fit near 0)."""
    real = t1.t1_linear
    too_large = world_from_mni @ np.diag([1.35, 1.35, 1.35, 1.0])

    def planted_t1_linear(image, config, workdir, start_native_from_template=None):
        result = real(image, config, workdir, start_native_from_template)
        retry = (config.start_pitch_deg, config.start_roll_deg) == (config.retry_start_pitch_deg,
                                                                    config.retry_start_roll_deg)
        return result if retry else T1LinearResult(result.cropped, t1.write_affine(too_large, workdir / "planted.mat"))

    monkeypatch.setattr(pool, "t1_linear", planted_t1_linear)


@pytest.mark.parametrize("retry", [True, False])
def test_a_first_registration_that_fails_qc_is_redone_from_the_retry_starts(tmp_path, head, monkeypatch, retry):
    """With the pose check off, a first pose that fails the head fit is redone from the retry starts
    (pitch and roll -10, 0, 10) and replaced; without retry starts it is kept and flagged."""
    source, world_from_mni = head
    _first_registration_maps_the_brain_too_large(monkeypatch, world_from_mni)
    config = FAST_CHECK if retry else dataclasses.replace(FAST_CHECK, retry_start_pitch_deg=(), retry_start_roll_deg=())
    settings = PreprocessSettings(caps_dir=tmp_path / "caps", t1_linear=config, target_shape=None, force=True,
                                  pose_check_max_mm=None)
    outcome = process_image(ImageJob("sub-01", "ses-M000", source), settings)
    written = native_from_template(caps.affine_path(settings.caps_dir, "sub-01", "ses-M000", TEMPLATE_SPACE, 2))
    error = error_mm(world_from_mni, written, cropped_template(config).brain_mask)[0]
    if retry:
        assert outcome.pose_adopted and error < 2.0 and outcome.head_fit >= MIN_HEAD_FIT, (outcome, error)
        assert qc_reason(outcome, 0.5, MIN_HEAD_FIT, 3.0) == ""
    else:
        assert not outcome.pose_adopted and error > 10.0
        assert "head fit" in qc_reason(outcome, 0.5, MIN_HEAD_FIT, 3.0)


def test_a_rerun_that_reuses_a_flagged_crop_redoes_it_as_a_fresh_run_would(tmp_path, head, monkeypatch):
    """A stage killed or rerun after the first registration: the reused crop fails QC, so the rerun
    redoes it from the retry starts and the outputs say the pose was adopted."""
    source, world_from_mni = head
    _first_registration_maps_the_brain_too_large(monkeypatch, world_from_mni)
    no_retry = dataclasses.replace(FAST_CHECK, retry_start_pitch_deg=(), retry_start_roll_deg=())
    settings = PreprocessSettings(caps_dir=tmp_path / "caps", t1_linear=no_retry, target_shape=None, force=True,
                                  pose_check_max_mm=None)
    job = ImageJob("sub-01", "ses-M000", source)
    assert not process_image(job, settings).pose_adopted  # the flagged first pose is in the CAPS
    rerun = dataclasses.replace(settings, t1_linear=FAST_CHECK, force=False)
    outcome = process_image(job, rerun)
    written = native_from_template(caps.affine_path(settings.caps_dir, "sub-01", "ses-M000", TEMPLATE_SPACE, 2))
    assert outcome.reused and outcome.pose_adopted, outcome
    assert error_mm(world_from_mni, written, cropped_template(FAST_CHECK).brain_mask)[0] < 2.0
    assert qc_reason(outcome, 0.5, MIN_HEAD_FIT, 3.0) == ""
