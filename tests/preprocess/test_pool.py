"""medaug.preprocess.pool: the preprocessing settings read from the parameters."""

from __future__ import annotations

import pytest

from medaug.preprocess.pool import PreprocessSettings


def test_a_negative_brain_mask_margin_is_refused_before_any_image_runs(tmp_path):
    params = {"target_shape": None, "antialias": True, "rescale_percentiles": [0, 100], "force": False,
              "t1_linear": {}, "model_ready_brain_mask_mm": -1.0, "qc_pose_check_mm": 3.0}
    with pytest.raises(ValueError, match="model_ready_brain_mask_mm"):
        PreprocessSettings.from_params(params, tmp_path)
    assert PreprocessSettings.from_params({**params, "model_ready_brain_mask_mm": None}, tmp_path).brain_mask_mm is None


def test_pose_check_threshold_is_read_and_checked(tmp_path):
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
