"""Stage ``train_classifier@<trainset>``: every run of one training set, in one process.

Training lasts at most ``classify.training.budget`` (:mod:`medaug.classify.budget`): ``unit:
epochs`` (thesis sec. 1.5.5) or ``unit: steps``, the same cap of Adam steps for every training set
whatever its size; the kept checkpoint and early stopping follow ``classify.training.selection``
and ``patience`` (:mod:`medaug.classify.selection`). Validation is always the real ``validation``
split. Run ``k`` uses the seed ``classify.seed + k``.

One stage trains every run of ``classify.runs`` on one training set: the data are read once and
the process starts once (about 15 s of imports and DVC bookkeeping per stage on the demo). With
``classify.workers`` > 1 the runs are shared among that many worker processes, each with
``threads // workers`` torch threads: a small CNN on a CPU gains less from a second intra-op thread
than from a second run beside it (``python -m benchmarks.speed.classifier_workers`` measures it). A
run's result depends on its thread count, not on the worker that trains it, so a rerun with the same
parameters writes the same bytes. The
folder ``<out_dir>/<trainset>/`` (one ``run-<k>/`` per run) is written as a whole, atomically: a
killed stage leaves the previous folder (or none) and a temporary sibling, which the next run of
the stage removes. Runs are always retrained, never reused from an earlier folder: DVC removes a
stage's outputs before it runs anyway, and a forced rerun must recompute every run for CI's
byte-for-byte check (``.ci/rerun_check.py``) to mean something.

The data come from :mod:`medaug.classify.sets`; the ``evaluate`` stage is :mod:`medaug.evaluate.stage`.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from medaug.classify.augment import augmentation_from_params
from medaug.classify.checkpoint import save_classifier
from medaug.classify.labels import ClassLabels
from medaug.classify.selection import kept_in_last_fifth
from medaug.classify.sets import TrainingData, run_list, training_data
from medaug.classify.train import ClassifierTrainingConfig, train_classifier
from medaug.classify.trainsets import trainset_spec
from medaug.io import atomic_directory, write_json, write_tsv
from medaug.runtime import set_threads
from medaug.stage_runner import LOG_FORMAT

__all__ = ["remove_leftovers", "run", "run_summary", "train_run", "worker_layout"]

logger = logging.getLogger(__name__)


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
                                              "trainset_spec": data.spec, "training": params["training"]},
                    classes=train.classes)
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
    """Remove the temporary siblings a killed ``run(params, trainset)`` left in ``out_dir``
    (``.tmp-<trainset>-XXXXXXXX`` and ``.tmp-<trainset>-old``, those of no other set); return them."""
    pattern = re.compile(r"\.tmp-" + re.escape(trainset) + r"-([a-z0-9_]{8}|old)")
    found = sorted(p for p in out_dir.glob(".tmp-*") if p.is_dir() and pattern.fullmatch(p.name))
    for path in found:
        logger.warning("removing %s, left by an interrupted run of %s", path, trainset)
        shutil.rmtree(path)
    return found


def run(params: Mapping[str, Any], trainset: str) -> list[dict[str, Any]]:
    """Train every run of ``classify.runs`` on ``trainset`` in this process; write the folder
    ``<out_dir>/<trainset>/`` with one ``run-<k>/`` per run, atomically as a whole (see the module
    docstring); return the runs' summaries."""
    trainset_spec(params, trainset)          # a bad set name or spec fails before any data is read
    runs = run_list(params)
    ClassifierTrainingConfig.from_dict(params["training"])   # and bad training parameters too
    ClassLabels.from_params(params)                          # and a bad classify.labels
    workers, threads = worker_layout(params, len(runs))
    set_threads(threads)
    data = training_data(params, trainset) if workers == 1 else None
    out_dir = Path(params["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_leftovers(out_dir, trainset)
    with atomic_directory(out_dir / trainset) as tmp:
        if workers == 1:
            summaries = [train_run(params, data, run_index, tmp / f"run-{run_index}") for run_index in runs]
        else:
            logger.info("%s: %d runs in %d worker processes of %d torch thread(s)", trainset, len(runs), workers, threads)
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
                futures = [pool.submit(_train_in_worker, dict(params), trainset, threads, logging.getLogger().level,
                                       run_index, str(tmp / f"run-{run_index}")) for run_index in runs]
                summaries = [future.result() for future in futures]
    last_fifth = sum(s["kept_in_last_fifth"] for s in summaries)
    logger.info("%s: %d runs; kept steps %s; %d kept in the last fifth of the cap", trainset, len(summaries),
                [s["kept_step"] for s in summaries], last_fifth)
    return summaries


def worker_layout(params: Mapping[str, Any], n_runs: int) -> tuple[int, int]:
    """(worker processes, torch threads of each) for ``n_runs`` runs: ``classify.workers`` (default 1)
    processes, never more than the runs, sharing the ``classify.threads`` threads (at least one each)."""
    workers = int(params.get("workers", 1))
    if workers < 1:
        raise ValueError(f"classify.workers must be at least 1, got {workers}")
    workers = min(workers, max(n_runs, 1))
    return workers, max(int(params["threads"]) // workers, 1)


def _train_in_worker(params: dict[str, Any], trainset: str, threads: int, log_level: int, run_index: int,
                     directory: str) -> dict[str, Any]:
    """One run in a worker process: logging as in the stage, the thread count, the data read here (a
    fraction of a second against a run's minute; a bad input fails this task with its own error)."""
    logging.basicConfig(level=log_level, format=LOG_FORMAT)
    set_threads(threads)
    return train_run(params, training_data(params, trainset), run_index, directory)
