"""The ``train_classifier`` and ``evaluate`` stages: every run of one training set in one process, and
every classifier on every test cohort.

Training lasts at most ``classify.training.budget`` (:mod:`medaug.classify.budget`): ``unit:
epochs`` (thesis sec. 1.5.5) or ``unit: steps``, the same cap of Adam steps for every training set
whatever its size; the kept checkpoint and early stopping follow ``classify.training.selection``
and ``patience`` (:mod:`medaug.classify.selection`). Validation is always the real ``validation``
split. Run ``k`` uses the seed ``classify.seed + k``.

One stage trains every run of ``classify.runs`` on one training set: the data are read once and
the process starts once (about 15 s of imports and DVC bookkeeping per stage on the demo). The
folder ``<out_dir>/<trainset>/`` (one ``run-<k>/`` per run) is written as a whole, atomically: a
killed stage leaves the previous folder (or none) and a temporary sibling, which the next run of
the stage removes. Runs are always retrained, never reused from an earlier folder: DVC removes a
stage's outputs before it runs anyway, and a forced rerun must recompute every run for CI's
byte-for-byte check (``.ci/rerun_check.py``) to mean something.

Test cohorts are the ``test`` split of the training cohort and the ``test`` table of each
external cohort, read after the leakage guard.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

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
from medaug.classify.evaluate import (
    CONVERGENCE_KEY,
    METRIC_NAMES,
    predict,
    prediction_metrics,
    summarize_convergence,
    summarize_runs,
)
from medaug.classify.networks import Conv5FC3Config, classifier_config
from medaug.classify.selection import kept_in_last_fifth
from medaug.classify.train import ClassifierTrainingConfig, train_classifier
from medaug.preprocess.model_ready import load_stack
from medaug.classify.trainsets import AUGMENTED_SOURCE, trainset_names, trainset_spec
from medaug.io import atomic_directory, write_json, write_tsv
from medaug.runtime import set_threads
from medaug.split import check_no_leakage, check_split_directories

__all__ = ["PREDICTION_COLUMNS", "EFFORT_KEYS", "TrainingData", "checked_splits", "split_set", "build_training_set",
           "training_data", "run_list", "train_run", "train_trainset", "load_test_cohorts", "evaluate_runs"]

logger = logging.getLogger(__name__)

PREDICTION_COLUMNS = ["trainset", "run", "cohort", "participant_id", "session_id", "diagnosis",
                      "probability_AD", "predicted"]
EFFORT_KEYS = ("kept_step", "stopped_step", "step_cap", "kept_in_last_fifth", "stop_reason", "selection",
               "optimisation_steps", "images_seen")  # copied from summary.json into runs.tsv


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


@dataclass
class TrainingData:
    """What every run of one training set shares: its images, the validation set, the network."""

    trainset: str
    spec: dict[str, Any]
    train: VolumeSet
    validation: VolumeSet
    network: Conv5FC3Config
    augmented: torch.Tensor   # bool (N,): the training images classic augmentation applies to (the real ones)


def run_list(params: Mapping[str, Any]) -> list[int]:
    """``classify.runs`` as distinct integers >= 0, in order; a clear error otherwise."""
    runs = params.get("runs")
    if not isinstance(runs, Sequence) or isinstance(runs, str) or not runs:
        raise ValueError(f"classify.runs must be a non-empty list of run indices, got {runs!r}")
    values = [int(r) for r in runs]
    if any(r < 0 for r in values) or len(set(values)) != len(values):
        raise ValueError(f"classify.runs must hold distinct indices >= 0, got {runs!r}")
    return values


def training_data(params: Mapping[str, Any], trainset: str) -> TrainingData:
    """The training set ``trainset`` and the real validation set, read once for all its runs."""
    spec = trainset_spec(params, trainset)
    splits = checked_splits(params)
    train = build_training_set(params, spec, splits)
    validation = split_set(params, splits, str(params.get("validation_split", "validation")))
    network_params = dict(params["network"])
    network = classifier_config(network_params.pop("name"), train.spatial_shape, **network_params)
    augmented = torch.tensor((train.table["source"] == AUGMENTED_SOURCE).to_numpy(dtype=bool))
    return TrainingData(trainset, spec, train, validation, network, augmented)


def train_run(params: Mapping[str, Any], data: TrainingData, run_index: int, directory: str | Path) -> dict[str, Any]:
    """Train run ``run_index`` of ``data.trainset``; write into ``directory`` (created, expected new)
    ``model.safetensors``, ``model.json``, ``history.tsv``, ``training_set.tsv``, ``summary.json``;
    return the summary."""
    seed = int(params["seed"]) + int(run_index)
    train, validation, trainset = data.train, data.validation, data.trainset
    config = ClassifierTrainingConfig.from_dict(params["training"], seed=seed)
    augmentation = augmentation_from_params(data.spec.get("augmentation"), train.spatial_shape, seed)
    logger.info("%s run %d: %s training images (%d validation), seed %d, network %s, at most %s; %s", trainset,
                run_index, train.counts(), len(validation), seed, params["network"]["name"],
                config.budget.describe(), config.selector.describe())
    result = train_classifier(data.network, train, validation, config, augmentation,
                              data.augmented if augmentation is not None else None)
    summary = run_summary(result, config, data, run_index, seed)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=False)
    save_classifier(directory, result.model, {"trainset": trainset, "run": run_index, "seed": seed,
                                              "trainset_spec": data.spec, "training": params["training"]})
    write_tsv(result.history, directory / "history.tsv")
    write_tsv(train.table, directory / "training_set.tsv")
    write_json(summary, directory / "summary.json")
    logger.info("kept step %d (epoch %g), stopped at step %d of %d (%s): validation loss %.3f, balanced accuracy %.3f",
                summary["kept_step"], summary["kept_epoch"], summary["stopped_step"], summary["step_cap"],
                summary["stop_reason"], summary["validation_loss"], summary["validation_balanced_accuracy"])
    return summary


def run_summary(result, config: ClassifierTrainingConfig, data: TrainingData, run_index: int,
                seed: int) -> dict[str, Any]:
    """The ``summary.json`` of one run: kept, stopped and cap steps, the kept validation's scores, counts."""
    best, train = result.best, data.train
    return {
        "trainset": data.trainset, "run": int(run_index), "seed": seed,
        "budget": config.budget.to_dict(),
        "selection": config.selection, "smoothing_window": config.smoothing_window, "patience": config.patience,
        "min_steps": config.min_steps,
        "kept_step": int(result.best_step),
        "kept_epoch": round(result.best_epoch, 6),
        "stopped_step": int(result.steps),
        "step_cap": int(result.cap),
        "stop_reason": result.stop_reason,
        "kept_in_last_fifth": kept_in_last_fifth(int(result.best_step), int(result.cap)),
        "optimisation_steps": int(result.steps),
        "images_seen": int(result.images_seen),
        "epochs_completed": round(result.images_seen / len(train), 6),
        "n_validations": int(len(result.history)),
        "validation_balanced_accuracy": float(best["validation_balanced_accuracy"]),
        "validation_loss": float(best["validation_loss"]),
        "validation_roc_auc": float(best["validation_roc_auc"]),
        "n_train": train.counts(), "n_train_by_source": train.table["source"].value_counts().sort_index().to_dict(),
        "n_augmented": int(data.augmented.sum()) if data.spec.get("augmentation") else 0,
        "n_validation": data.validation.counts(),
    }


def remove_leftovers(out_dir: Path, trainset: str) -> list[Path]:
    """Remove the temporary siblings a killed ``train_trainset(trainset)`` left in ``out_dir``
    (``.tmp-<trainset>-XXXXXXXX`` and ``.tmp-<trainset>-old``, those of no other set); return them."""
    pattern = re.compile(r"\.tmp-" + re.escape(trainset) + r"-([a-z0-9_]{8}|old)")
    found = sorted(p for p in out_dir.glob(".tmp-*") if p.is_dir() and pattern.fullmatch(p.name))
    for path in found:
        logger.warning("removing %s, left by an interrupted run of %s", path, trainset)
        shutil.rmtree(path)
    return found


def train_trainset(params: Mapping[str, Any], trainset: str) -> list[dict[str, Any]]:
    """Train every run of ``classify.runs`` on ``trainset`` in this process; write the folder
    ``<out_dir>/<trainset>/`` with one ``run-<k>/`` per run, atomically as a whole (see the module
    docstring); return the runs' summaries."""
    trainset_spec(params, trainset)          # a bad set name or spec fails before any data is read
    runs = run_list(params)
    ClassifierTrainingConfig.from_dict(params["training"])   # and bad training parameters too
    set_threads(int(params["threads"]))
    data = training_data(params, trainset)
    out_dir = Path(params["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_leftovers(out_dir, trainset)
    with atomic_directory(out_dir / trainset) as tmp:
        summaries = [train_run(params, data, run_index, tmp / f"run-{run_index}") for run_index in runs]
    last_fifth = sum(s["kept_in_last_fifth"] for s in summaries)
    logger.info("%s: %d runs; kept steps %s; %d kept in the last fifth of the cap", trainset, len(summaries),
                [s["kept_step"] for s in summaries], last_fifth)
    return summaries


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
    and the metrics ``{trainset: {cohort: {metric: {mean, std}, n_runs}, "convergence": {...}}}``
    (convergence: :func:`medaug.classify.evaluate.summarize_convergence`); return the metrics."""
    set_threads(int(params["threads"]))
    evaluation = params["evaluate"]
    cohorts = load_test_cohorts(params)
    if CONVERGENCE_KEY in cohorts:
        raise ValueError(f"classify: a test cohort may not be named {CONVERGENCE_KEY!r} (a key of the metrics)")
    predictions, rows = [], []
    for trainset in trainset_names(params):
        for run_index in run_list(params):
            directory = Path(params["out_dir"]) / trainset / f"run-{run_index}"
            model, _ = load_classifier(directory)
            summary = json.loads((directory / "summary.json").read_text())
            for cohort, volumes in cohorts.items():
                frame = predict(model, volumes, int(evaluation["batch_size"]), params["training"].get("device", "auto"))
                rows.append({"trainset": trainset, "run": run_index, "cohort": cohort, **prediction_metrics(frame),
                             "kept_epoch": summary.get("kept_epoch"),
                             "validation_balanced_accuracy": summary["validation_balanced_accuracy"],
                             **{key: summary.get(key) for key in EFFORT_KEYS}})
                frame.insert(0, "cohort", cohort)
                frame.insert(0, "run", run_index)
                frame.insert(0, "trainset", trainset)
                predictions.append(frame[PREDICTION_COLUMNS])
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
