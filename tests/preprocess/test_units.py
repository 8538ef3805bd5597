"""Fast unit tests of medaug.preprocess: template box, input checks, CAPS names, QC, model-ready volumes."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from medaug.preprocess import caps
from medaug.preprocess.model_ready import (
    ModelReadyError, dilated_mask, downsample, downsampled_affine, load_stack, min_max_rescale, model_ready_volume,
    session_rows, write_stack,
)
from medaug.preprocess.qc import normalised_cross_correlation, save_qc_montage, template_ncc
from medaug.preprocess.template import CLINICA_CROP_SHAPE, crop_box, load_template
from medaug.preprocess.validate import InvalidImageError, load_t1w


# --- template and crop box -------------------------------------------------------------------------

def test_crop_box_holds_whole_brain_mask_and_matches_documented_box():
    template = load_template(1)
    mask = np.asarray(template.brain_mask.dataobj) > 0
    box = crop_box(mask, CLINICA_CROP_SHAPE)
    assert box.start == (14, 13, 0) and box.stop == (183, 221, 179)
    assert mask[box.slices].sum() == mask.sum()
    cropped = template.cropped(box)
    assert cropped.image.shape == CLINICA_CROP_SHAPE
    # the cropped grid's first voxel sits where the box starts on the full grid (mm)
    np.testing.assert_allclose(cropped.affine[:3, 3], [-84.0, -121.0, -72.0])


def test_crop_box_refuses_a_box_smaller_than_the_brain():
    mask = np.asarray(load_template(2).brain_mask.dataobj)
    with pytest.raises(ValueError, match="cannot hold"):
        crop_box(mask, (40, 104, 90))


# --- input validation ------------------------------------------------------------------------------

def _save(path: Path, data: np.ndarray, affine: np.ndarray | None = None) -> Path:
    nib.save(nib.Nifti1Image(data, np.diag([2.0, 2.0, 2.0, 1.0]) if affine is None else affine), path)
    return path


def _good(shape=(20, 24, 22)) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 100, shape).astype(np.float32)


def test_load_t1w_accepts_a_good_image_and_a_singleton_4d(tmp_path):
    assert load_t1w(_save(tmp_path / "a.nii.gz", _good())).shape == (20, 24, 22)
    assert load_t1w(_save(tmp_path / "b.nii.gz", _good()[..., None])).shape == (20, 24, 22)


@pytest.mark.parametrize(
    ("case", "message"),
    [("truncated", "truncated"), ("garbage", "unreadable"), ("4d", "3D"), ("nan", "NaN/Inf"), ("inf", "NaN/Inf"),
     ("empty", "empty"), ("missing", "not found"), ("shear", "shear")],
)
def test_load_t1w_rejects_bad_input_with_the_file_name(tmp_path, case, message):
    path = tmp_path / f"sub-{case}_T1w.nii.gz"
    if case == "truncated":
        _save(path, _good())
        path.write_bytes(path.read_bytes()[:400])
    elif case == "garbage":
        path.write_bytes(gzip.compress(b"not a nifti file at all" * 20))
    elif case == "4d":
        _save(path, np.stack([_good()] * 3, axis=-1))
    elif case in ("nan", "inf"):
        data = _good()
        data[3, 4, 5] = np.nan if case == "nan" else np.inf
        _save(path, data)
    elif case == "empty":
        _save(path, np.zeros((20, 24, 22), np.float32))
    elif case == "shear":
        affine = np.diag([2.0, 2.0, 2.0, 1.0])
        affine[0, 1] = 0.5
        _save(path, _good(), affine)
    with pytest.raises(InvalidImageError) as info:
        load_t1w(path)
    assert str(path) in str(info.value) and message in str(info.value)


# --- CAPS names ------------------------------------------------------------------------------------

def test_caps_paths_follow_clinica_naming(tmp_path):
    crop = caps.crop_image_path(tmp_path, "sub-01", "ses-M000", "MNI152NLin2009aSym")
    assert crop.relative_to(tmp_path).as_posix() == (
        "subjects/sub-01/ses-M000/t1_linear/sub-01_ses-M000_space-MNI152NLin2009aSym_desc-Crop_res-1x1x1_T1w.nii.gz")
    assert caps.affine_path(tmp_path, "sub-01", "ses-M000", "X").name == "sub-01_ses-M000_space-X_res-1x1x1_affine.mat"
    assert caps.affine_path(tmp_path, "sub-01", "ses-M000", "X", 2).name == "sub-01_ses-M000_space-X_res-2x2x2_affine.mat"
    assert caps.crop_sidecar_path(tmp_path, "sub-01", "ses-M000", "X", 2).name == \
        "sub-01_ses-M000_space-X_desc-Crop_res-2x2x2_T1w.json"


def test_find_crop_image_accepts_any_template_space(tmp_path):
    path = caps.crop_image_path(tmp_path, "sub-01", "ses-M000", "MNI152NLin2009cSym")
    path.parent.mkdir(parents=True)
    path.touch()
    assert caps.find_crop_image(tmp_path, "sub-01", "ses-M000") == path
    assert caps.find_crop_image(tmp_path, "sub-02", "ses-M000") is None
    assert caps.list_crop_sessions(tmp_path) == [("sub-01", "ses-M000")]


# --- QC ----------------------------------------------------------------------------------------------

def test_ncc_is_one_for_affine_intensity_change_and_minus_one_for_negation():
    rng = np.random.default_rng(1)
    image, mask = rng.normal(size=(10, 10, 10)), np.ones((10, 10, 10), bool)
    assert normalised_cross_correlation(3 * image + 7, image, mask) == pytest.approx(1.0)
    assert normalised_cross_correlation(-image, image, mask) == pytest.approx(-1.0)
    assert abs(normalised_cross_correlation(rng.normal(size=image.shape), image, mask)) < 0.1


def test_template_ncc_resamples_the_template_onto_another_grid():
    template = load_template(2)
    box = crop_box(np.asarray(template.brain_mask.dataobj), (80, 100, 88))
    cropped = template.cropped(box)
    assert template_ncc(cropped.image, template.image, template.brain_mask) == pytest.approx(1.0, abs=1e-6)
    shifted = nib.Nifti1Image(np.roll(np.asarray(cropped.image.dataobj), 4, axis=1), cropped.affine)
    assert template_ncc(shifted, template.image, template.brain_mask) < 0.9


def test_qc_montage_is_a_png_with_one_row_per_image(tmp_path):
    mask = np.zeros((12, 14, 10))
    mask[3:9, 3:11, 2:8] = 1
    volumes = [np.random.default_rng(i).uniform(size=mask.shape) for i in range(3)]
    path = tmp_path / "qc.png"
    save_qc_montage(path, volumes, mask, ["a", "b", "c"], [False, True, False], row_height_px=28)
    import matplotlib.image

    picture = matplotlib.image.imread(path)
    assert picture.shape[0] >= 3 * 28 and picture.shape[1] > picture.shape[0] / 3


# --- model-ready volumes -----------------------------------------------------------------------------

def test_downsample_keeps_constants_and_the_field_of_view():
    volume = np.full((16, 20, 12), 5.0, np.float32)
    small = downsample(volume, (4, 5, 3))
    assert small.shape == (4, 5, 3) and small.dtype == np.float32
    np.testing.assert_allclose(small, 5.0, rtol=1e-6)
    # a linear ramp along x is sampled at the down-sampled voxel centres
    ramp = np.broadcast_to(np.arange(16, dtype=np.float32)[:, None, None], (16, 20, 12))
    np.testing.assert_allclose(downsample(ramp, (8, 10, 6), antialias=False)[:, 0, 0], np.arange(8) * 2 + 0.5)
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    low = downsampled_affine(affine, (16, 20, 12), (8, 10, 6))
    np.testing.assert_allclose(low[:3, 3], [0.5, 0.5, 0.5])  # centre of the first 2x2x2 block
    np.testing.assert_allclose(np.diag(low)[:3], [2.0, 2.0, 2.0])


def test_min_max_rescale_maps_to_unit_range():
    out = min_max_rescale(np.array([[[2.0, 4.0], [6.0, 10.0]]]))
    np.testing.assert_allclose(out.ravel(), [0.0, 0.25, 0.5, 1.0])
    with pytest.raises(ValueError):
        min_max_rescale(np.ones((2, 2, 2)))


def test_stack_round_trip_is_memory_mapped(tmp_path):
    volumes = [np.full((3, 4, 5), i, np.float32) for i in range(3)]
    index = pd.DataFrame({"participant_id": ["sub-a", "sub-b", "sub-c"], "session_id": ["ses-M000"] * 3})
    write_stack(tmp_path / "model_ready", volumes, index, {"space": "X"})
    stack, table, meta = load_stack(tmp_path / "model_ready")
    assert isinstance(stack, np.memmap) and stack.shape == (3, 3, 4, 5) and stack.dtype == np.float32
    assert list(table["row"]) == [0, 1, 2] and table.loc[2, "participant_id"] == "sub-c"
    assert float(stack[table.loc[1, "row"]].mean()) == 1.0
    assert meta["space"] == "X" and meta["n_images"] == 3 and meta["shape"] == [3, 4, 5]
    assert not list(tmp_path.glob(".tmp-*"))



def test_missing_or_inconsistent_stack_names_the_file(tmp_path):
    with pytest.raises(ModelReadyError, match="nowhere.npy: model-ready stack not found"):
        load_stack(tmp_path / "nowhere")
    index = pd.DataFrame({"participant_id": ["sub-a", "sub-b"], "session_id": ["ses-M000"] * 2})
    write_stack(tmp_path / "model_ready", [np.zeros((2, 2, 2), np.float32)] * 2, index, {})
    (tmp_path / "model_ready.json").unlink()
    with pytest.raises(ModelReadyError, match="model_ready.json: model-ready stack not found"):
        load_stack(tmp_path / "model_ready")
    write_stack(tmp_path / "model_ready", [np.zeros((2, 2, 2), np.float32)] * 2, index, {})
    np.save(tmp_path / "model_ready.npy", np.zeros((3, 2, 2, 2), np.float32))
    with pytest.raises(ModelReadyError, match=r"model_ready.npy: shape \(3, 2, 2, 2\) does not match the 2 rows"):
        load_stack(tmp_path / "model_ready")


def test_session_rows_follow_the_split_and_drop_qc_exclusions(caplog):
    index = pd.DataFrame({"participant_id": ["sub-a", "sub-b", "sub-c"], "session_id": ["ses-M000"] * 3, "row": [0, 1, 2]})
    split = pd.DataFrame({"participant_id": ["sub-c", "sub-a", "sub-b"], "session_id": ["ses-M000"] * 3, "diagnosis": ["AD", "CN", "CN"]})
    rows, kept = session_rows(index, split, "train.tsv")
    assert list(rows) == [2, 0, 1] and list(kept["diagnosis"]) == ["AD", "CN", "CN"]
    rows, kept = session_rows(index, split, "train.tsv", excluded={("sub-a", "ses-M000")})
    assert list(rows) == [2, 1] and list(kept["participant_id"]) == ["sub-c", "sub-b"]
    assert "train.tsv: 1 session(s) left out by preprocessing QC: sub-a" in caplog.text
    with pytest.raises(ModelReadyError, match="train.tsv: no model-ready volume for 1 session.*sub-a ses-M000"):
        session_rows(index.iloc[1:], split, "train.tsv")
    with pytest.raises(ModelReadyError, match=r"train.tsv: missing column\(s\) \['session_id'\]"):
        session_rows(index, split.drop(columns="session_id"), "train.tsv")


def test_run_summary_counts_reuse_and_times_only_registered_images():
    from medaug.preprocess.cohort import run_summary

    table = pd.DataFrame({"status": ["ok", "ok", "qc_flagged", "error"], "in_model_ready": [True, True, False, False],
                          "reused": [True, False, False, False], "seconds": [0.1, 4.0, 6.0, 0.01]})
    assert run_summary(table) == {"images": 4, "status": {"error": 1, "ok": 2, "qc_flagged": 1}, "in_model_ready": 2,
                                  "reused": 1, "median_seconds_per_image": 5.0}
    table["reused"] = [True, True, True, False]
    assert run_summary(table)["median_seconds_per_image"] is None


def test_dilated_mask_grows_by_the_distance_in_mm_on_an_anisotropic_grid():
    mask = np.zeros((21, 21, 21), bool)
    mask[10, 10, 10] = True
    grown = dilated_mask(mask, (1.0, 2.0, 1.0), 4.0)
    assert grown[14, 10, 10] and not grown[15, 10, 10]   # 4 voxels of 1 mm along axis 0
    assert grown[10, 12, 10] and not grown[10, 13, 10]   # 2 voxels of 2 mm along axis 1
    assert np.array_equal(dilated_mask(mask, (1, 1, 1), 0.0), mask)
    with pytest.raises(ValueError, match="empty"):
        dilated_mask(np.zeros((3, 3, 3)), (1, 1, 1), 1.0)


def test_model_ready_volume_zeroes_what_lies_outside_the_brain_mask():
    rng = np.random.default_rng(0)
    volume = rng.uniform(1.0, 2.0, (16, 16, 16)).astype(np.float32)
    volume[:, :, :4] = 50.0                               # a bright "scalp" outside the mask
    mask = np.zeros(volume.shape, bool)
    mask[4:12, 4:12, 4:12] = True
    masked = model_ready_volume(volume, None, False, (0.0, 100.0), mask)
    assert np.all(masked[~mask] == 0.0) and masked[mask].max() == 1.0   # rescaled on the brain
    unmasked = model_ready_volume(volume, None, False, (0.0, 100.0))
    assert unmasked[mask].max() < 0.05                    # without the mask the scalp sets the range
    with pytest.raises(ValueError, match="shape"):
        model_ready_volume(volume, None, False, (0.0, 100.0), mask[:8])


def test_a_negative_brain_mask_margin_is_refused_before_any_image_runs(tmp_path):
    from medaug.preprocess.pool import PreprocessSettings

    params = {"target_shape": None, "antialias": True, "rescale_percentiles": [0, 100], "force": False,
              "t1_linear": {}, "model_ready_brain_mask_mm": -1.0, "qc_pose_check_mm": 3.0}
    with pytest.raises(ValueError, match="model_ready_brain_mask_mm"):
        PreprocessSettings.from_params(params, tmp_path)
    assert PreprocessSettings.from_params({**params, "model_ready_brain_mask_mm": None}, tmp_path).brain_mask_mm is None


def test_pose_check_threshold_is_read_and_checked(tmp_path):
    from medaug.preprocess.pool import PreprocessSettings

    params = {"target_shape": None, "antialias": True, "rescale_percentiles": [0, 100], "force": False,
              "t1_linear": {"start_pitch_deg": [-10, 0, 10]}, "model_ready_brain_mask_mm": None,
              "qc_pose_check_mm": 0.0}
    with pytest.raises(ValueError, match="qc_pose_check_mm"):
        PreprocessSettings.from_params(params, tmp_path)
    settings = PreprocessSettings.from_params({**params, "qc_pose_check_mm": 3}, tmp_path)
    assert settings.pose_check_max_mm == 3.0 and settings.t1_linear.start_pitch_deg == (-10, 0, 10)
    assert PreprocessSettings.from_params({**params, "qc_pose_check_mm": None}, tmp_path).pose_check_max_mm is None
    with pytest.raises(ValueError, match="at least one angle"):
        PreprocessSettings.from_params({**params, "qc_pose_check_mm": 3, "t1_linear": {"start_roll_deg": []}}, tmp_path)
