"""Stage ``evaluate``: every trained classifier on every test cohort; metrics per run, mean and sd over runs.

The classifiers are the ``train_classifier`` stages' checkpoints ``<out_dir>/<trainset>/run-<k>/``;
the test cohorts come from :func:`medaug.classify.sets.load_test_cohorts`. Writes::

    <results_dir>/predictions.tsv   trainset, run, cohort, participant_id, session_id, diagnosis,
                                    probability_<positive>, predicted
    <results_dir>/runs.tsv          trainset, run, cohort, balanced_accuracy, sensitivity,
                                    specificity, roc_auc, n_<positive>, n_<negative>, kept_epoch, validation BA,
                                    kept_step, stopped_step, step_cap, kept_in_last_fifth,
                                    stop_reason, selection, optimisation_steps, images_seen (from
                                    the run's summary.json; n/a where a run did not record them)
    <metrics>                       {trainset: {cohort: {metric: {mean, std}, n_runs},
                                                convergence: {n_runs, selection, step_cap,
                                                kept_step, stopped_step (min / median / max),
                                                kept_in_last_fifth, stopped_early (run counts)}}}

The two classes are ``classify.labels`` (:class:`medaug.classify.labels.ClassLabels`); the demo's
``{negative: CN, positive: AD}`` gives the columns ``probability_AD``, ``n_AD`` and ``n_CN``, and
sensitivity is the recall of the positive label.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from medaug.classify.checkpoint import load_classifier
from medaug.classify.evaluate import CONVERGENCE_KEY, METRIC_NAMES, predict, prediction_metrics
from medaug.classify.evaluate import summarize_convergence, summarize_runs
from medaug.classify.labels import DEMO_CLASSES, ClassLabels
from medaug.classify.sets import load_test_cohorts, run_list
from medaug.classify.trainsets import trainset_names
from medaug.io import write_json, write_tsv
from medaug.runtime import set_threads

__all__ = ["EFFORT_KEYS", "PREDICTION_COLUMNS", "prediction_columns", "run"]

logger = logging.getLogger(__name__)

def prediction_columns(classes: ClassLabels) -> list[str]:
    """The columns of ``predictions.tsv``; P(positive) is ``probability_<positive>``."""
    return ["trainset", "run", "cohort", "participant_id", "session_id", "diagnosis", classes.probability_column,
            "predicted"]


PREDICTION_COLUMNS = prediction_columns(DEMO_CLASSES)
"""The demo's columns of ``predictions.tsv`` (``probability_AD``)."""
EFFORT_KEYS = ("kept_step", "stopped_step", "step_cap", "kept_in_last_fifth", "stop_reason", "selection",
               "optimisation_steps", "images_seen")  # copied from summary.json into runs.tsv


def run(params: Mapping[str, Any]) -> dict[str, Any]:
    """Evaluate every (trainset, run) on every test cohort; write ``predictions.tsv``, ``runs.tsv``
    and the metrics ``{trainset: {cohort: {metric: {mean, std}, n_runs}, "convergence": {...}}}``
    (convergence: :func:`medaug.classify.evaluate.summarize_convergence`); return the metrics."""
    set_threads(int(params["threads"]))
    evaluation = params["evaluate"]
    # a run whose kept checkpoint scores no better than this on the real validation split learned nothing
    chance = float(evaluation["chance_balanced_accuracy"])
    classes = ClassLabels.from_params(params)
    cohorts = load_test_cohorts(params)
    if CONVERGENCE_KEY in cohorts:
        raise ValueError(f"classify: a test cohort may not be named {CONVERGENCE_KEY!r} (a key of the metrics)")
    predictions, rows = [], []
    for trainset in trainset_names(params):
        for run_index in run_list(params):
            directory = Path(params["out_dir"]) / trainset / f"run-{run_index}"
            model, _ = load_classifier(directory, classes)
            summary = json.loads((directory / "summary.json").read_text())
            for cohort, volumes in cohorts.items():
                frame = predict(model, volumes, int(evaluation["batch_size"]), params["training"].get("device", "auto"))
                rows.append({"trainset": trainset, "run": run_index, "cohort": cohort, **prediction_metrics(frame, classes),
                             "kept_epoch": summary.get("kept_epoch"),
                             "validation_balanced_accuracy": summary["validation_balanced_accuracy"],
                             "at_chance": bool(summary["validation_balanced_accuracy"] <= chance),
                             **{key: summary.get(key) for key in EFFORT_KEYS}})
                frame.insert(0, "cohort", cohort)
                frame.insert(0, "run", run_index)
                frame.insert(0, "trainset", trainset)
                predictions.append(frame[prediction_columns(classes)])
    per_run = pd.DataFrame(rows)
    metrics = summarize_runs(per_run, by=("trainset", "cohort"), metrics=METRIC_NAMES)
    for trainset, convergence in summarize_convergence(per_run).items():
        metrics[trainset][CONVERGENCE_KEY] = convergence
    results = Path(evaluation["results_dir"])
    write_tsv(pd.concat(predictions, ignore_index=True), results / "predictions.tsv")
    write_tsv(per_run, results / "runs.tsv")
    write_json(metrics, evaluation["metrics"])
    for trainset, by_cohort in metrics.items():
        for cohort, entry in by_cohort.items():
            if cohort == CONVERGENCE_KEY:
                continue
            ba = entry["balanced_accuracy"]
            std = "n/a" if ba["std"] is None else f"{ba['std']:.3f}"
            logger.info("%16s on %s: balanced accuracy %.3f ± %s (%d runs)", trainset, cohort, ba["mean"], std,
                        entry["n_runs"])
    return metrics
