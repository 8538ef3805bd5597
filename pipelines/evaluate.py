"""Stage ``evaluate``: every trained classifier on every test cohort; metrics per run, mean and sd over runs.

    python -m pipelines.evaluate [--params params.yaml]

Reads the ``classify`` section of params.yaml, the checkpoints ``<out_dir>/<trainset>/run-<k>/``
of every training set and run, and the test cohorts: the ``test`` split of the training cohort
and the ``test`` table of each external cohort (after the leakage guard). Writes::

    <results_dir>/predictions.tsv   trainset, run, cohort, participant_id, session_id, diagnosis,
                                    probability_AD, predicted
    <results_dir>/runs.tsv          trainset, run, cohort, balanced_accuracy, sensitivity,
                                    specificity, roc_auc, n_AD, n_CN, best_epoch, validation BA,
                                    best_step, optimisation_steps, images_seen (training effort
                                    from the run's summary.json; n/a for runs trained before the
                                    budget was recorded)
    <metrics>                       {trainset: {cohort: {metric: {mean, std}, n_runs}}}
"""

from __future__ import annotations

import sys

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from medaug.bids.layout import read_table
from medaug.classify import (
    METRIC_NAMES,
    VolumeSet,
    load_classifier,
    predict,
    prediction_metrics,
    read_model_ready,
    qc_excluded_sessions,
    split_volumes,
    summarize_runs,
)
from medaug.io import write_json, write_tsv
from pipelines._params import load_params
from pipelines._timing import run_stage
from pipelines.train_classifier import TRAINSET_GROUPS, checked_splits

PREDICTION_COLUMNS = ["trainset", "run", "cohort", "participant_id", "session_id", "diagnosis",
                      "probability_AD", "predicted"]
EFFORT_KEYS = ("best_step", "optimisation_steps", "images_seen")  # copied from summary.json into runs.tsv


def test_cohorts(params: Mapping[str, Any]) -> dict[str, VolumeSet]:
    """Cohort name -> test volumes: the training cohort's test split, then each external cohort."""
    splits = checked_splits(params)
    splits_dir = Path(params["splits_dir"])
    training = params["training_cohort"]
    tables = {training: (splits.get("test"), splits_dir / training / "test.tsv")}
    for name in params.get("external_cohorts") or []:
        path = splits_dir / name / "test.tsv"
        tables[name] = (read_table(path, ("participant_id", "session_id", "diagnosis")), path)
    cohorts = {}
    for name, (table, path) in tables.items():
        if table is None:
            raise FileNotFoundError(f"{path}: test split not found")
        prefix = str(params["model_ready"]).format(cohort=name)
        stack, index = read_model_ready(prefix)
        cohorts[name] = split_volumes(stack, index, table, str(path), excluded=qc_excluded_sessions(prefix))
    return cohorts


def trainset_names(params: Mapping[str, Any]) -> list[str]:
    return [name for group in TRAINSET_GROUPS for name in (params.get(group) or {})]


def run(params: Mapping[str, Any]) -> dict[str, Any]:
    """Evaluate every (trainset, run) on every test cohort; write the tables; return the metrics."""
    torch.set_num_threads(int(params.get("num_threads", 1)))
    evaluation = params["evaluate"]
    cohorts = test_cohorts(params)
    predictions, rows = [], []
    for trainset in trainset_names(params):
        for run_index in [int(r) for r in params["runs"]]:
            directory = Path(params["out_dir"]) / trainset / f"run-{run_index}"
            model, _ = load_classifier(directory)
            summary = json.loads((directory / "summary.json").read_text())
            for cohort, volumes in cohorts.items():
                frame = predict(model, volumes, int(evaluation["batch_size"]), params["training"].get("device", "auto"))
                rows.append({"trainset": trainset, "run": run_index, "cohort": cohort, **prediction_metrics(frame),
                             "best_epoch": summary["best_epoch"],
                             "validation_balanced_accuracy": summary["validation_balanced_accuracy"],
                             **{key: summary.get(key) for key in EFFORT_KEYS}})
                frame.insert(0, "cohort", cohort)
                frame.insert(0, "run", run_index)
                frame.insert(0, "trainset", trainset)
                predictions.append(frame[PREDICTION_COLUMNS])
    per_run = pd.DataFrame(rows)
    metrics = summarize_runs(per_run, by=("trainset", "cohort"), metrics=METRIC_NAMES)
    results = Path(evaluation["results_dir"])
    write_tsv(pd.concat(predictions, ignore_index=True), results / "predictions.tsv")
    write_tsv(per_run, results / "runs.tsv")
    write_json(metrics, evaluation["metrics"])
    return metrics


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    metrics = run(load_params("classify", args.params))
    for trainset, by_cohort in metrics.items():
        for cohort, entry in by_cohort.items():
            ba = entry["balanced_accuracy"]
            std = "n/a" if ba["std"] is None else f"{ba['std']:.3f}"
            print(f"{trainset:>16} on {cohort}: balanced accuracy {ba['mean']:.3f} ± {std} ({entry['n_runs']} runs)")


if __name__ == "__main__":
    sys.exit(run_stage(main))
