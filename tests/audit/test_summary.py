"""medaug.audit.summary: the audit's summary tables and metrics, from small hand-made per-measure tables."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from medaug.audit.summary import (
    HELD_OUT,
    PCA_REFERENCE,
    REAL_HALVES,
    REAL_TRAIN,
    checks_block,
    checks_frame,
    fidelity_means,
    gan_summary,
    metrics_document,
    region_means,
    summary_table,
)

CRITERIA = {"min_dissimilarity_share": 0.5, "min_precision": 0.5, "min_recall": 0.3, "max_near_copies": 0,
            "max_share_closer_than_reconstructions": 0.1}


def _diversity() -> pd.DataFrame:
    rows = [(HELD_OUT, "AD", 0.60, 0.50, 0.10, 1.0), (REAL_TRAIN, "AD", 0.62, 0.52, 0.11, 1.0),
            ("hmc", "AD", 0.70, 0.65, 0.08, 0.6), (PCA_REFERENCE, "AD", 0.9, 0.85, 0.05, 0.4)]
    return pd.DataFrame(rows, columns=["group", "label", "ms_ssim_mask_mean", "ms_ssim_mean", "rms_mean",
                                       "variance_share"])


def _fidelity() -> pd.DataFrame:
    rows = [("hmc", "AD", 0, 10.0, 0.6, 0.2, 20), ("hmc", "AD", 1, 14.0, 0.8, "n/a", 20),
            (REAL_HALVES, "AD", 0, 2.0, 0.9, 0.9, 20)]
    return pd.DataFrame(rows, columns=["group", "label", "run", "frechet_distance", "precision", "recall", "n"])


MEMORISATION = {("hmc", "AD"): {"n_near_copies": 0, "share_closer_than_reconstructions": 0.05,
                                "reconstruction_nn_threshold": 3.5, "reconstruction_quantile": 0.05}}


def test_fidelity_means_average_runs_and_skip_missing_values():
    means = fidelity_means(_fidelity())
    assert means.loc[("hmc", "AD"), "frechet_distance"] == 12.0 and means.loc[("hmc", "AD"), "precision"] == 0.7
    assert means.loc[("hmc", "AD"), "recall"] == 0.2   # the run without a recall is left out
    assert "precision_sd" not in means.columns


def test_summary_rows_put_the_references_first_and_keep_counts_integer():
    memorisation = {("hmc", "AD"): {"n_near_copies": 2, "n_synthetic": 40}}
    table = summary_table(["hmc"], ["CN", "AD"], memorisation, _diversity(), _fidelity())
    assert list(zip(table["sampler"], table["label"])) == [
        (REAL_TRAIN, "CN"), (REAL_TRAIN, "AD"), (REAL_HALVES, "CN"), (REAL_HALVES, "AD"), ("hmc", "CN"), ("hmc", "AD")]
    hmc = table.set_index(["sampler", "label"]).loc[("hmc", "AD")]
    assert (hmc["ms_ssim_mask_mean"], hmc["real_ms_ssim_mask_mean"], hmc["precision"]) == (0.70, 0.60, 0.7)
    assert (hmc["ms_ssim_mean"], hmc["real_ms_ssim_mean"], hmc["variance_share"]) == (0.65, 0.50, 0.6)
    assert hmc["n_near_copies"] == 2 and str(table["n_near_copies"].dtype) == "Int64"
    assert pd.isna(table.set_index(["sampler", "label"]).loc[("hmc", "CN"), "ms_ssim_mask_mean"])


def test_checks_block_applies_the_criteria_and_adds_the_context():
    block = checks_block(["hmc"], ["AD"], MEMORISATION, _diversity(), _fidelity(),
                         {"AD": {"rank": 8, "explained_variance": 0.75}}, CRITERIA)
    checks = block["hmc"]["AD"]
    # limit 1 - 0.5 * (1 - 0.60) = 0.80 >= 0.70; precision 0.7 >= 0.5 but recall 0.2 < 0.3
    assert checks["ms_ssim_limit"] == pytest.approx(0.80) and checks["diversity_ok"] is True
    assert checks["fidelity_ok"] is False and checks["memorisation_ok"] is True and checks["passed"] is False
    assert (checks["precision_real_halves"], checks["recall_real_halves"]) == (0.9, 0.9)
    assert (checks["ms_ssim_pca_reference"], checks["ms_ssim_real_train"]) == (0.9, 0.62)
    assert (checks["ms_ssim_whole_volume"], checks["variance_share_pca_reference"]) == (0.65, 0.4)
    assert (checks["pca_rank"], checks["n_classifier_runs"], checks["precision_recall_set_size"]) == (8, 2, 20)
    assert checks["reconstruction_nn_threshold"] == 3.5 and checks["ms_ssim_reconstructions"] is None


def test_checks_frame_repeats_the_criteria_and_keeps_counts_integer():
    block = checks_block(["hmc"], ["AD"], MEMORISATION, _diversity(), _fidelity(), {}, CRITERIA)
    frame = checks_frame(block, CRITERIA)
    assert len(frame) == 1 and frame.loc[0, "criterion_min_recall"] == 0.3
    assert str(frame["near_copies"].dtype) == "Int64" and pd.isna(frame.loc[0, "pca_rank"])


def test_gan_summary_is_mean_and_sample_sd_with_the_real_baseline():
    runs = pd.DataFrame({"sampler": ["real", "real", "hmc", "hmc", "hmc"],
                         "measure": ["baseline", "baseline", "gan_train", "gan_train", "gan_test"],
                         "run": [0, 1, 0, 1, 0], "balanced_accuracy": [0.8, 0.9, 0.6, 0.7, 0.75]})
    gan = gan_summary(runs, ["hmc", "prior"]).set_index("sampler")
    assert gan.loc["hmc", "gan_train_mean"] == pytest.approx(0.65)
    assert gan.loc["hmc", "gan_train_std"] == pytest.approx(math.sqrt(0.005))
    assert gan.loc["hmc", "gan_test_mean"] == 0.75 and math.isnan(gan.loc["hmc", "gan_test_std"])
    assert pd.isna(gan.loc["prior", "gan_train_mean"]) and gan.loc["prior", "baseline_mean"] == pytest.approx(0.85)


def test_region_means_per_group_and_label():
    regions = pd.DataFrame({"group": ["hmc", "hmc", HELD_OUT], "label": ["AD"] * 3, "participant_id": ["a", "b", "c"],
                            "hippocampus": [2.0, 4.0, 5.0]})
    assert region_means(regions) == {"hmc/AD": {"hippocampus": 3.0}, f"{HELD_OUT}/AD": {"hippocampus": 5.0}}


def test_metrics_document_nests_by_sampler_and_label_with_nan_as_none():
    summary = pd.DataFrame({"sampler": ["hmc", "hmc"], "label": ["CN", "AD"], "precision": [0.5, math.nan]})
    gan = pd.DataFrame({"sampler": ["hmc"], "gan_train_mean": [0.6]})
    document = metrics_document("demo", 1234, summary, gan, {"hmc": {}}, CRITERIA, None)
    assert document["by_sampler"] == {"hmc": {"CN": {"precision": 0.5}, "AD": {"precision": None}}}
    assert document["gan"] == {"hmc": {"gan_train_mean": 0.6}} and document["brain_mask_voxels"] == 1234
    assert document["note"] == "demo" and document["criteria"] == CRITERIA and document["regions"] is None
