"""medaug.preprocess.model_ready: down-sampling, rescaling, masking and the stacked volumes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medaug.preprocess.model_ready import (
    ModelReadyError, dilated_mask, downsample, downsampled_affine, load_stack, min_max_rescale, model_ready_volume,
    session_rows, write_stack,
)


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
