"""medaug.preprocess.cohort: the images table, its QC reasons and the run summary."""

from __future__ import annotations

import math

import pandas as pd

from medaug.preprocess.cohort import outcomes_table, qc_reason, run_summary
from medaug.preprocess.pool import ImageOutcome


def test_run_summary_counts_reuse_and_times_only_registered_images():
    table = pd.DataFrame({"status": ["ok", "ok", "qc_flagged", "error"], "in_model_ready": [True, True, False, False],
                          "reused": [True, False, False, False], "seconds": [0.1, 4.0, 6.0, 0.01]})
    assert run_summary(table) == {"images": 4, "status": {"error": 1, "ok": 2, "qc_flagged": 1}, "in_model_ready": 2,
                                  "reused": 1, "median_seconds_per_image": 5.0}
    table["reused"] = [True, True, True, False]
    assert run_summary(table)["median_seconds_per_image"] is None


def _outcome(ncc: float, fit: float, margin: float) -> ImageOutcome:
    return ImageOutcome("sub-01", "ses-M000", "x.nii.gz", "ok", ncc=ncc, head_fit=fit, head_margin_mm=margin)


def test_images_table_flags_either_score_with_its_reason():
    outcomes = [_outcome(0.9, 1.0, 15.0), _outcome(0.9, 0.1, 50.0), _outcome(0.3, 1.0, 15.0),
                _outcome(0.9, float("nan"), float("nan"))]
    table = outcomes_table(outcomes, qc_threshold=0.5, exclude_flagged=True)
    assert list(table["status"]) == ["ok", "qc_flagged", "qc_flagged", "ok"]
    assert list(table["in_model_ready"]) == [True, False, False, True]
    assert table["qc_reason"][0] == "" and table["qc_reason"][3] == ""
    assert table["qc_reason"][1].startswith("head fit 0.10 < 0.75 (brain mapped too small")
    assert table["qc_reason"][2] == "NCC 0.300 < 0.5"
    both = qc_reason(_outcome(0.2, 0.0, -5.0), 0.5)
    assert both.startswith("NCC 0.200 < 0.5; head fit 0.00") and "too large" in both


def test_a_pose_check_beyond_its_limit_flags_and_a_failed_image_has_no_scores():
    turned = ImageOutcome("sub-02", "ses-M000", "y.nii.gz", "ok", ncc=0.9, head_fit=1.0, head_margin_mm=15.0,
                          pose_mm=6.25, pose_deg=15.0, pose_axis="about x")
    assert qc_reason(turned, 0.5, pose_max_mm=3.0).startswith("pose check 6.2 mm > 3 mm")
    assert qc_reason(turned, 0.5, pose_max_mm=10.0) == ""
    failed = ImageOutcome("sub-03", "ses-M000", "z.nii.gz", "error", error="z.nii.gz: file not found")
    table = outcomes_table([turned, failed], qc_threshold=0.5, exclude_flagged=False, pose_max_mm=3.0)
    assert list(table["status"]) == ["qc_flagged", "error"] and list(table["qc_pass"]) == [False, False]
    assert list(table["in_model_ready"]) == [True, False]   # flagged images are kept unless excluded
    assert math.isnan(table["ncc"][1]) and table["qc_reason"][1] == "" and table["error"][1] == "z.nii.gz: file not found"
