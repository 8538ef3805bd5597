"""medaug.classify.evaluate: predictions of a classifier, their metrics, and summaries over runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from medaug.classify.data import VolumeSet
from medaug.classify.evaluate import predict, prediction_metrics, summarize_convergence, summarize_runs
from medaug.classify.labels import ClassLabels


class _Fixed(torch.nn.Module):
    """Logits (0, the first voxel): P(positive) = sigmoid(first voxel)."""

    def forward(self, x):
        first = x.flatten(1)[:, 0]
        return torch.stack([torch.zeros_like(first), first], 1)


def _volumes(first_voxels, labels, classes=ClassLabels("CN", "AD")) -> VolumeSet:
    n = len(labels)
    images = torch.zeros(n, 1, 2, 2, 2)
    images[:, 0, 0, 0, 0] = torch.tensor(first_voxels)
    table = pd.DataFrame({"participant_id": [f"sub-{i}" for i in range(n)], "session_id": "ses-M000",
                          "diagnosis": [classes.names[y] for y in labels], "source": "real"})
    return VolumeSet(images, torch.tensor(labels), table, classes)


def test_predict_gives_the_probability_of_the_positive_class_and_the_argmax_label():
    frame = predict(_Fixed(), _volumes([2.0, -1.0, 0.5], [1, 0, 0]), batch_size=2, device="cpu")
    np.testing.assert_allclose(frame["probability_AD"], 1 / (1 + np.exp(-np.array([2.0, -1.0, 0.5]))))
    assert list(frame["predicted"]) == ["AD", "CN", "AD"] and list(frame["y_true"]) == [1, 0, 0]
    assert list(frame["participant_id"]) == ["sub-0", "sub-1", "sub-2"]


def test_prediction_metrics_by_hand_with_other_labels():
    classes = ClassLabels("HC", "PD")
    # PD: 2 of 2 found; HC: 1 of 2 kept -> sensitivity 1, specificity 0.5, balanced accuracy 0.75
    frame = predict(_Fixed(), _volumes([3.0, 1.0, 2.0, -2.0], [1, 1, 0, 0], classes), device="cpu")
    metrics = prediction_metrics(frame, classes)
    assert metrics["sensitivity"] == 1.0 and metrics["specificity"] == 0.5
    assert metrics["balanced_accuracy"] == pytest.approx(0.75)
    assert metrics["roc_auc"] == pytest.approx(0.75)  # PD scores 3, 1 against HC 2, -2: 3 of 4 pairs ordered
    assert (metrics["n_PD"], metrics["n_HC"]) == (2, 2)


def test_summary_over_runs_is_mean_and_sample_std() -> None:
    per_run = pd.DataFrame({"trainset": ["real"] * 3, "cohort": ["test"] * 3,
                            "balanced_accuracy": [0.6, 0.7, 0.8], "sensitivity": [1.0, 1.0, 1.0],
                            "specificity": [0.2, 0.4, 0.6], "roc_auc": [np.nan, 0.5, 0.7]})
    out = summarize_runs(per_run)["real"]["test"]
    assert out["n_runs"] == 3
    assert out["balanced_accuracy"]["mean"] == pytest.approx(0.7)
    assert out["balanced_accuracy"]["std"] == pytest.approx(0.1)
    assert out["roc_auc"]["mean"] == pytest.approx(0.6)  # NaN runs are left out of the mean


def test_a_single_run_has_no_standard_deviation_and_groups_nest_in_order():
    per_run = pd.DataFrame({"trainset": ["b", "a"], "cohort": ["ext", "test"], "balanced_accuracy": [0.5, 0.9],
                            "sensitivity": [0.5, 1.0], "specificity": [0.5, 0.8], "roc_auc": [0.6, 0.9]})
    summary = summarize_runs(per_run)
    assert list(summary) == ["a", "b"]
    assert summary["a"]["test"]["balanced_accuracy"] == {"mean": 0.9, "std": None}
    assert summary["b"]["ext"]["n_runs"] == 1


def test_convergence_counts_each_run_once_whatever_its_cohorts():
    per_run = pd.DataFrame({
        "trainset": ["real"] * 4, "run": [0, 0, 1, 1], "cohort": ["test", "ext"] * 2,
        "kept_step": [40, 40, 95, 95], "stopped_step": [60, 60, 100, 100], "step_cap": [100] * 4,
        "kept_in_last_fifth": [False, False, True, True], "stop_reason": ["patience", "patience", "cap", "cap"],
        "selection": ["validation_loss"] * 4, "at_chance": ["False", "False", "True", "True"]})
    out = summarize_convergence(per_run)["real"]
    assert out["n_runs"] == 2 and out["selection"] == "validation_loss"
    assert out["kept_step"] == {"min": 40, "median": 67.5, "max": 95}
    assert out["step_cap"] == {"min": 100, "median": 100, "max": 100}
    assert (out["kept_in_last_fifth"], out["stopped_early"]) == (1, 1)
    assert (out["at_chance"], out["runs_at_chance"]) == (1, [1])


def test_convergence_of_runs_without_a_recorded_step_is_unknown():
    per_run = pd.DataFrame({"trainset": ["old"], "run": [0], "balanced_accuracy": [0.7]})
    out = summarize_convergence(per_run)["old"]
    assert out["kept_step"] == {"min": None, "median": None, "max": None}
    assert out["kept_in_last_fifth"] is None and out["stopped_early"] is None and out["at_chance"] is None
    assert out["selection"] is None
