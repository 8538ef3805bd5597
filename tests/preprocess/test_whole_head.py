"""t1-linear on whole-head scans with a neck, a face and shoulders, and the registration-independent QC.

Fast tests use 4 mm renderings of the whole-head cases and the coarse set-up of the other t1-linear
tests; the slow test registers the 20 cases at 1 mm with the demo parameters and checks each one
against its ground-truth pose (mean error <= 2 mm over the template brain mask, none above 4 mm).

    python -m pytest -m slow tests/preprocess/test_whole_head.py -s     # prints the per-image table
"""

from __future__ import annotations

import time

import nibabel as nib
import numpy as np
import pytest

from medaug.preprocess import t1_linear as t1
from medaug.preprocess.fov import crop_neck
from medaug.preprocess.head_qc import MIN_HEAD_FIT, head_fit, head_fit_reason, template_rays
from medaug.preprocess.qc import template_ncc
from medaug.preprocess.t1_linear import T1LinearConfig, cropped_template, native_from_template, scratch_directory
from tests.preprocess._fixtures import synthetic_t1w
from tests.preprocess._whole_head_cases import cases, error_mm, render_case
from tests.preprocess.test_t1_linear import COARSE, DEMO


@pytest.fixture(scope="module")
def neck_images(repo_params):
    """Three whole-head-with-neck cases (RAS, LAS, PSL) rendered at 4 mm: (image, world_from_mni)."""
    return [render_case(case, repo_params["cohort"], voxel_mm=4.0) for case in cases()[:3]]


def _about_brain_centre(world_from_mni: np.ndarray, scale: float = 1.0, shift_mm=(0.0, 0.0, 0.0)) -> np.ndarray:
    """``world_from_mni`` composed with a scaling about the template brain centre and a shift (template mm)."""
    centre = template_rays()[0]
    change = np.eye(4)
    change[:3, :3] *= scale
    change[:3, 3] = centre - scale * centre + np.asarray(shift_mm)
    return world_from_mni @ change


def test_crop_neck_drops_the_shoulders_keeps_the_brain_and_the_world_geometry(neck_images):
    brain = cropped_template(COARSE).brain_mask
    points = brain.affine[:3, :3] @ np.argwhere(np.asarray(brain.dataobj) > 0).T + brain.affine[:3, 3:4]
    for image, world_from_mni in neck_images:
        cropped, info = crop_neck(image, 200.0)
        assert info.removed_mm > 20  # the shoulders and most of the neck are gone
        # same world geometry: a kept voxel has the same world coordinates before and after
        start = np.zeros(3)
        start[info.axis] = info.kept[0]
        np.testing.assert_allclose(cropped.affine[:3, 3], image.affine[:3, :3] @ start + image.affine[:3, 3])
        kept = np.take(np.asarray(image.dataobj), np.arange(*info.kept), axis=info.axis)
        np.testing.assert_array_equal(np.asarray(cropped.dataobj), kept)
        # every brain point (true pose) is still inside the cropped grid
        world = world_from_mni[:3, :3] @ points + world_from_mni[:3, 3:4]
        voxels = np.linalg.inv(cropped.affine)[:3, :3] @ world + np.linalg.inv(cropped.affine)[:3, 3:4]
        assert voxels.min() > -1 and np.all(voxels.max(axis=1) < np.asarray(cropped.shape))


def test_crop_neck_leaves_a_head_without_neck_alone():
    image, _ = synthetic_t1w(11, voxel_mm=4.0)  # field of view 230 mm high, no neck
    cropped, info = crop_neck(image, 260.0)
    assert cropped is image and info.removed_mm == 0


def test_coarse_t1_linear_recovers_the_pose_of_heads_with_a_neck(neck_images):
    brain = cropped_template(COARSE).brain_mask
    for image, world_from_mni in neck_images:
        with scratch_directory() as workdir:
            result = t1.t1_linear(image, COARSE, workdir)
            mean_mm, _ = error_mm(world_from_mni, native_from_template(result.transform_file), brain)
        assert mean_mm < 2.5, mean_mm


def test_head_fit_passes_the_true_pose_and_flags_misregistrations(neck_images):
    for image, world_from_mni in [*neck_images, synthetic_t1w(12, voxel_mm=4.0, flip_x=True)]:
        truth = head_fit(image, world_from_mni)
        assert truth.score >= 0.9 and 5 <= truth.median_margin_mm <= 25, truth
        assert head_fit_reason(truth.score, truth.median_margin_mm) == ""
        small = head_fit(image, _about_brain_centre(world_from_mni, scale=0.7))  # the neck pulled the fit
        assert small.score < 0.2 and small.median_margin_mm > 40, small
        assert "too small" in head_fit_reason(small.score, small.median_margin_mm)
        shifted = head_fit(image, _about_brain_centre(world_from_mni, shift_mm=(25.0, 0.0, 0.0)))
        assert shifted.score < MIN_HEAD_FIT, shifted
        assert "off-centre" in head_fit_reason(shifted.score, shifted.median_margin_mm)


def test_head_fit_does_not_use_the_template_intensities(neck_images):
    # the score reads only the native image and the transform: a constant-contrast head scores the same
    image, world_from_mni = neck_images[0]
    data = np.asarray(image.dataobj, dtype=np.float32)
    binary = nib.Nifti1Image((data > 0.2 * np.percentile(data, 99)).astype(np.float32) * 500, image.affine)
    assert head_fit(binary, world_from_mni).score >= 0.9


def _run_cohort_with_a_planted_pose(neck_images, tmp_path, monkeypatch, wrong_pose, pose_check_max_mm=None):
    """Preprocess two heads, the second one's transform replaced by ``wrong_pose(truth)``: (table, montage labels, flags)."""
    from medaug.preprocess import cohort as cohort_module
    from medaug.preprocess import pool as pool_module
    from medaug.preprocess.pool import ImageJob, PreprocessSettings

    paths = []
    for k, (image, _) in enumerate(neck_images[:2]):
        paths.append(tmp_path / f"sub-0{k}.nii.gz")
        nib.save(image, paths[-1])
    truths = [w for _, w in neck_images[:2]]
    real_t1_linear = pool_module.t1_linear

    def misregister_second(image, config, workdir, start_native_from_template=None):
        # every registration of the second head, a redone one too, ends in the planted pose
        result = real_t1_linear(image, config, workdir, start_native_from_template)
        if np.allclose(image.affine, neck_images[1][0].affine):
            t1.write_affine(wrong_pose(truths[1]), result.transform_file)
        return result

    monkeypatch.setattr(pool_module, "t1_linear", misregister_second)
    saved = {}
    real_montage = cohort_module.save_qc_montage
    monkeypatch.setattr(cohort_module, "save_qc_montage",
                        lambda path, volumes, mask, labels, flagged: saved.update(labels=labels, flagged=flagged)
                        or real_montage(path, volumes, mask, labels, flagged))
    settings = PreprocessSettings(caps_dir=tmp_path / "caps", t1_linear=COARSE, target_shape=(21, 26, 22),
                                  pose_check_max_mm=pose_check_max_mm)
    jobs = [ImageJob(f"sub-0{k}", "ses-M000", path) for k, path in enumerate(paths)]
    table = cohort_module.preprocess_cohort(jobs, settings, tmp_path / "out", qc_threshold=0.0, progress=False)
    assert (tmp_path / "out" / "qc_montage.png").stat().st_size > 0
    return table, saved["labels"], saved["flagged"]


def test_preprocess_cohort_reports_a_misregistration_in_images_tsv_and_the_montage(neck_images, tmp_path, monkeypatch):
    """A deliberately wrong transform (brain scaled 0.7 in the head) is flagged by the head fit."""
    table, labels, flagged = _run_cohort_with_a_planted_pose(
        neck_images, tmp_path, monkeypatch, lambda truth: _about_brain_centre(truth, scale=0.7))
    assert list(table["status"]) == ["ok", "qc_flagged"], table
    assert "too small" in table["qc_reason"][1] and table["head_fit"][0] >= 0.9
    written = (tmp_path / "out" / "images.tsv").read_text()
    assert "qc_reason" in written and "too small" in written
    assert flagged == [False, True] and "FLAGGED: head fit" in labels[1]


def test_preprocess_cohort_flags_a_15_degree_pitch_by_the_pose_check(neck_images, tmp_path, monkeypatch):
    """A registration pitched 15 degrees about the brain centre passes the head fit; the pose check flags it.

    The redone registration from the better pose is planted too, so adoption cannot fix it
    (tests/preprocess/test_pose_adoption.py covers adoption).
    """
    centre = template_rays()[0]
    table, labels, flagged = _run_cohort_with_a_planted_pose(
        neck_images, tmp_path, monkeypatch, lambda truth: truth @ t1.rotation_about(centre, 15.0, 0.0),
        pose_check_max_mm=3.0)
    assert list(table["status"]) == ["ok", "qc_flagged"], table
    assert table["head_fit"][1] >= MIN_HEAD_FIT  # not what flags it
    assert table["pose_check_mm"][0] <= 3.0 and table["pose_check_mm"][1] > 3.0, table
    assert table["pose_check_axis"][1] == "pitch" and table["pose_check_deg"][1] > 10
    assert not table["pose_adopted"].any()
    reason = table["qc_reason"][1]
    assert reason.startswith("pose check") and "deg pitch" in reason, reason
    written = (tmp_path / "out" / "images.tsv").read_text()
    assert "pose_check_mm" in written.splitlines()[0] and "deg pitch" in written
    assert flagged == [False, True] and "FLAGGED: pose check" in labels[1]


@pytest.mark.slow
def test_whole_head_with_neck_cases_at_1mm_match_their_ground_truth(repo_params):
    """The whole-head cases at 1 mm: each within 2 mm mean / 4 mm max of its true pose, none flagged by
    any QC check, and the same pose pitched 15 degrees flagged by the pose check."""
    from medaug.preprocess.pose_check import MAX_POSE_MM, pose_check

    config: T1LinearConfig = DEMO
    template = cropped_template(config)
    centre = template_rays()[0]
    rows = []
    for case in cases():
        image, world_from_mni = render_case(case, repo_params["cohort"], voxel_mm=1.0)
        start, cpu = time.perf_counter(), time.process_time()
        with scratch_directory() as workdir:
            result = t1.t1_linear(image, config, workdir)
            estimated = native_from_template(result.transform_file)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        mean_mm, max_mm = error_mm(world_from_mni, estimated, template.brain_mask)
        fit = head_fit(image, estimated)
        ncc = template_ncc(result.cropped, template.image, template.brain_mask)
        with scratch_directory() as workdir:
            pose = pose_check(image, estimated, config, workdir).distance_mm
            pitched = pose_check(image, estimated @ t1.rotation_about(centre, 15.0, 0.0), config, workdir).distance_mm
        rows.append((case.name, image.shape, mean_mm, max_mm, seconds, ncc, fit.score, pose, pitched))
        print(f"{case.name:34s} {str(image.shape):16s} mean {mean_mm:4.2f} mm  max {max_mm:4.2f} mm  "
              f"{seconds:5.1f} s wall  {cpu:5.1f} s CPU  NCC {ncc:.3f}  head fit {fit.score:.2f}  "
              f"pose check {pose:4.1f} mm (pitched 15 deg: {pitched:4.1f} mm)", flush=True)
    means = np.array([r[2] for r in rows])
    print(f"mean error over the {len(rows)} images: {means.mean():.2f} mm (worst {means.max():.2f} mm); "
          f"median {np.median([r[4] for r in rows]):.1f} s per image")
    assert len(rows) >= 20
    assert all(r[2] <= 2.0 and r[3] <= 4.0 for r in rows), rows
    assert all(r[5] >= 0.5 and r[6] >= MIN_HEAD_FIT and r[7] <= MAX_POSE_MM for r in rows), rows  # no false flag
    assert all(r[8] > MAX_POSE_MM for r in rows), rows  # every planted pitch flagged
