"""The ``train_classifier`` and ``evaluate`` stages: one classifier per (training set, run), and every
classifier on every test cohort.

Training lasts ``classify.training.budget`` (:mod:`medaug.classify.budget`): ``unit: epochs``
(thesis sec. 1.5.5) or ``unit: steps``, the same number of Adam steps for every training set
whatever its size. Validation is always the real ``validation`` split. Run ``k`` uses the seed
``classify.seed + k``. Test cohorts are the ``test`` split of the training cohort and the ``test``
table of each external cohort, read after the leakage guard.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from medaug.bids.layout import read_table
from medaug.classify.augment import augmentation_from_params
from medaug.classify.checkpoint import load_classifier, save_classifier
from medaug.classify.data import (
    ClassifierDataError,
    VolumeSet,
    concatenate,
    qc_excluded_sessions,
    split_volumes,
    synthetic_volumes,
)
from medaug.classify.evaluate import METRIC_NAMES, predict, prediction_metrics, summarize_runs
from medaug.classify.networks import classifier_config
from medaug.classify.train import ClassifierTrainingConfig, train_classifier
from medaug.preprocess.model_ready import load_stack
from medaug.classify.trainsets import trainset_names, trainset_spec
from medaug.io import atomic_directory, write_json, write_tsv
from medaug.runtime import set_threads
from medaug.split import check_no_leakage, check_split_directories

__all__ = ["PREDICTION_COLUMNS", "EFFORT_KEYS", "checked_splits", "split_set", "build_training_set",
           "train_run", "load_test_cohorts", "evaluate_runs"]

logger = logging.getLogger(__name__)

PREDICTION_COLUMNS = ["trainset", "run", "cohort", "participant_id", "session_id", "diagnosis",
                      "probability_AD", "predicted"]
EFFORT_KEYS = ("best_step", "optimisation_steps", "images_seen")  # copied from summary.json into runs.tsv


def checked_splits(params: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """The training cohort's split tables, after the leakage guard over them and the external cohorts."""
    splits_dir = Path(params["splits_dir"])
    externals = {name: splits_dir / name for name in params.get("external_cohorts") or []}
    return check_split_directories(splits_dir / params["training_cohort"], externals)


def _cohort_volumes(params: Mapping[str, Any], cohort: str, table: pd.DataFrame, path: Path) -> VolumeSet:
    """The model-ready volumes of ``cohort`` listed in ``table`` (read from ``path``)."""
    prefix = str(params["model_ready"]).format(cohort=cohort)
    stack, index, _ = load_stack(prefix)
    return split_volumes(stack, index, table, str(path), excluded=qc_excluded_sessions(prefix))


def split_set(params: Mapping[str, Any], splits: Mapping[str, pd.DataFrame], split: str) -> VolumeSet:
    """The real volumes of one split of the training cohort."""
    cohort = params["training_cohort"]
    if split not in splits:
        raise ClassifierDataError(f"{Path(params['splits_dir']) / cohort}: no split {split!r} (found {sorted(splits)})")
    return _cohort_volumes(params, cohort, splits[split], Path(params["splits_dir"]) / cohort / f"{split}.tsv")


def build_training_set(params: Mapping[str, Any], spec: Mapping[str, Any],
                       splits: Mapping[str, pd.DataFrame]) -> VolumeSet:
    """Real split images and / or the first ``synthetic`` images per label, in that order."""
    parts = []
    if spec.get("real"):
        parts.append(split_set(params, splits, str(spec["real"])))
    n_synthetic = int(spec.get("synthetic") or 0)
    if n_synthetic:
        synthetic = synthetic_volumes(spec.get("synthetic_dir") or params["synthetic_dir"], n_synthetic)
        check_no_leakage({**splits, "synthetic": synthetic.table})  # no synthetic id equals a real one
        parts.append(synthetic)
    return concatenate(parts)


def train_run(params: Mapping[str, Any], trainset: str, run_index: int) -> dict[str, Any]:
    """Train one classifier; write ``<out_dir>/<trainset>/run-<k>/`` atomically (``model.safetensors``,
    ``model.json``, ``history.tsv``, ``training_set.tsv``, ``summary.json``); return the summary."""
    spec = trainset_spec(params, trainset)
    if run_index not in [int(r) for r in params["runs"]]:
        raise ValueError(f"run {run_index} is not in classify.runs {params['runs']}")
    set_threads(int(params["threads"]))
    seed = int(params["seed"]) + run_index

    splits = checked_splits(params)
    train = build_training_set(params, spec, splits)
    validation = split_set(params, splits, str(params.get("validation_split", "validation")))
    network_params = dict(params["network"])
    network = classifier_config(network_params.pop("name"), train.spatial_shape, **network_params)
    config = ClassifierTrainingConfig.from_dict(params["training"], seed=seed)
    augmentation = augmentation_from_params(spec.get("augmentation"), train.spatial_shape, seed)

    logger.info("%s run %d: %s training images (%d validation), seed %d, network %s, %s", trainset, run_index,
                train.counts(), len(validation), seed, params["network"]["name"], config.budget.describe())
    result = train_classifier(network, train, validation, config, augmentation)
    best = result.best
    summary = {
        "trainset": trainset, "run": run_index, "seed": seed,
        "budget": config.budget.to_dict(),
        "optimisation_steps": int(result.steps),
        "images_seen": int(result.images_seen),
        "epochs_completed": round(result.images_seen / len(train), 6),
        "n_validations": int(len(result.history)),
        "best_step": int(result.best_step),
        "best_epoch": round(result.best_epoch, 6),
        "validation_balanced_accuracy": float(best["validation_balanced_accuracy"]),
        "validation_loss": float(best["validation_loss"]),
        "n_train": train.counts(), "n_train_by_source": train.table["source"].value_counts().sort_index().to_dict(),
        "n_validation": validation.counts(),
    }
    out = Path(params["out_dir"]) / trainset / f"run-{run_index}"
    with atomic_directory(out) as tmp:
        save_classifier(tmp, result.model, {"trainset": trainset, "run": run_index, "seed": seed,
                                            "trainset_spec": spec, "training": params["training"]})
        write_tsv(result.history, tmp / "history.tsv")
        write_tsv(train.table, tmp / "training_set.tsv")
        write_json(summary, tmp / "summary.json")
    logger.info("kept step %d of %d (epoch %g): validation balanced accuracy %.3f", summary["best_step"],
                summary["optimisation_steps"], summary["best_epoch"], summary["validation_balanced_accuracy"])
    return summary


def load_test_cohorts(params: Mapping[str, Any]) -> dict[str, VolumeSet]:
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
        cohorts[name] = _cohort_volumes(params, name, table, path)
    return cohorts


def evaluate_runs(params: Mapping[str, Any]) -> dict[str, Any]:
    """Evaluate every (trainset, run) on every test cohort; write ``predictions.tsv``, ``runs.tsv``
    and the metrics ``{trainset: {cohort: {metric: {mean, std}, n_runs}}}``; return the metrics."""
    set_threads(int(params["threads"]))
    evaluation = params["evaluate"]
    cohorts = load_test_cohorts(params)
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
    for trainset, by_cohort in metrics.items():
        for cohort, entry in by_cohort.items():
            ba = entry["balanced_accuracy"]
            std = "n/a" if ba["std"] is None else f"{ba['std']:.3f}"
            logger.info("%16s on %s: balanced accuracy %.3f ± %s (%d runs)", trainset, cohort, ba["mean"], std,
                        entry["n_runs"])
    return metrics
