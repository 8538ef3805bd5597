"""medaug.evaluate.stage: every classifier on every test cohort, from untrained checkpoints written here
(training is tested in tests/classify); per-run metrics, their summaries and the written tables."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from medaug.classify.checkpoint import CheckpointError, save_classifier
from medaug.classify.evaluate import prediction_metrics
from medaug.classify.labels import ClassLabels
from medaug.classify.networks import build_classifier
from medaug.evaluate.stage import prediction_columns, run
from tests._classify_fixtures import EXTERNAL_PER_LABEL, SHAPE, SPLIT_SIZES, make_classification_cohort

N_TEST = {"tiny": 2 * SPLIT_SIZES["test"], "ext": 2 * EXTERNAL_PER_LABEL}


def _checkpoints(params: dict, validation_ba: dict[tuple[str, int], float]) -> None:
    """An untrained network and a summary.json per (trainset, run), as the train_classifier stage leaves them."""
    for (trainset, run_index), ba in validation_ba.items():
        torch.manual_seed(run_index)
        directory = Path(params["out_dir"]) / trainset / f"run-{run_index}"
        save_classifier(directory, build_classifier("small", SHAPE), {"run": run_index})
        summary = {"validation_balanced_accuracy": ba, "kept_epoch": 2, "kept_step": 10 + run_index, "step_cap": 20,
                   "stopped_step": 20, "kept_in_last_fifth": False, "stop_reason": "max_steps",
                   "selection": "validation_loss", "optimisation_steps": 20, "images_seen": 160}
        (directory / "summary.json").write_text(json.dumps(summary))


@pytest.fixture()
def params(tmp_path: Path) -> dict:
    params = make_classification_cohort(tmp_path)
    params["synthetic_trainsets"] = {}
    params["real_trainsets"] = {"real": {"real": "train"}}
    params["training"]["device"] = "cpu"
    _checkpoints(params, {("real", 0): 0.8, ("real", 1): 0.5})
    return params


def test_every_run_on_every_cohort_and_the_summaries(params):
    metrics = run(params)
    results = Path(params["evaluate"]["results_dir"])
    runs = pd.read_csv(results / "runs.tsv", sep="\t")
    assert list(zip(runs["run"], runs["cohort"])) == [(0, "tiny"), (0, "ext"), (1, "tiny"), (1, "ext")]
    assert list(runs["at_chance"]) == [False, False, True, True]   # validation BA 0.5 <= 0.55
    assert list(runs["kept_step"]) == [10, 10, 11, 11] and set(runs["n_AD"]) == {SPLIT_SIZES["test"], EXTERNAL_PER_LABEL}
    predictions = pd.read_csv(results / "predictions.tsv", sep="\t")
    assert list(predictions.columns) == prediction_columns(ClassLabels("CN", "AD"))
    assert len(predictions) == 2 * sum(N_TEST.values())
    for (run_index, cohort), frame in predictions.groupby(["run", "cohort"]):   # runs.tsv from predictions.tsv
        frame = frame.assign(y_true=(frame["diagnosis"] == "AD").astype(int))
        row = runs[(runs["run"] == run_index) & (runs["cohort"] == cohort)].iloc[0]
        assert prediction_metrics(frame)["balanced_accuracy"] == pytest.approx(row["balanced_accuracy"])
    tiny = runs[runs["cohort"] == "tiny"]["balanced_accuracy"]
    assert metrics["real"]["tiny"]["balanced_accuracy"]["mean"] == pytest.approx(tiny.mean())
    assert metrics["real"]["tiny"]["n_runs"] == 2
    assert metrics["real"]["convergence"]["at_chance"] == 1 and metrics["real"]["convergence"]["runs_at_chance"] == [1]
    assert json.loads(Path(params["evaluate"]["metrics"]).read_text()) == metrics


def test_a_missing_checkpoint_is_named(params):
    params["runs"] = [0, 1, 2]
    with pytest.raises(CheckpointError, match=r"classify/real/run-2/model.json: file not found"):
        run(params)
    assert not Path(params["evaluate"]["results_dir"]).exists()


def test_a_test_cohort_named_like_the_convergence_key_is_refused(params):
    (Path(params["splits_dir"]) / "ext").rename(Path(params["splits_dir"]) / "convergence")
    ready = Path(params["model_ready"].format(cohort="ext")).parent
    ready.rename(ready.parent / "convergence")
    params["external_cohorts"] = ["convergence"]
    with pytest.raises(ValueError, match="a test cohort may not be named 'convergence'"):
        run(params)
