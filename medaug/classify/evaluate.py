"""Predictions of a trained classifier on test cohorts, their metrics, and summaries over runs
(test metrics, and where each run's kept checkpoint lies in its step budget)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import torch

from medaug.classify.data import VolumeSet
from medaug.classify.labels import DEMO_CLASSES, ClassLabels
from medaug.classify.metrics import classification_metrics
from medaug.classify.train import predict_logits
from medaug.io import finite_or_none
from medaug.runtime import resolve_device

METRIC_NAMES = ("balanced_accuracy", "sensitivity", "specificity", "roc_auc")
CONVERGENCE_KEY = "convergence"   # per training set in the metrics, beside the test cohorts


def predict(model: torch.nn.Module, volumes: VolumeSet, batch_size: int = 32, device: str = "auto") -> pd.DataFrame:
    """One row per image: the volume table plus ``y_true`` (class id), ``probability_<positive>``
    (P(positive), e.g. ``probability_AD``) and ``predicted`` (a label of ``volumes.classes``).

    The predicted label is the class of highest probability (``probability_AD > 0.5``).
    """
    torch_device = resolve_device(device)
    model = model.to(torch_device)
    logits = predict_logits(model, volumes.images, batch_size, torch_device)
    probability = torch.softmax(logits.double(), dim=1)[:, 1].numpy()
    frame = volumes.table.reset_index(drop=True).copy()
    frame["y_true"] = volumes.labels.numpy()
    frame[volumes.classes.probability_column] = probability
    frame["predicted"] = [volumes.classes.names[i] for i in logits.argmax(1).tolist()]
    return frame


def prediction_metrics(predictions: pd.DataFrame, classes: ClassLabels = DEMO_CLASSES) -> dict[str, float]:
    """Metrics of one prediction table of :func:`predict` (columns ``y_true``, ``predicted``,
    ``probability_<positive>``); the counts are keyed ``n_<positive>``, ``n_<negative>``."""
    y_pred = predictions["predicted"].map({label: i for i, label in enumerate(classes.names)}).to_numpy()
    return classification_metrics(predictions["y_true"].to_numpy(), y_pred,
                                  predictions[classes.probability_column].to_numpy(), classes.count_keys)


def summarize_runs(per_run: pd.DataFrame, by: Sequence[str] = ("trainset", "cohort"),
                   metrics: Sequence[str] = METRIC_NAMES) -> dict:
    """Mean and standard deviation (ddof=1, as the thesis' "mean ± sd over runs") per group.

    ``per_run``: one row per (run, group) with the ``metrics`` columns. Returns nested dicts
    ``{group1: {group2: {metric: {"mean", "std"}, "n_runs": k}}}``; NaN (undefined) is written as None.
    """
    summary: dict = {}
    for keys, group in per_run.groupby(list(by), sort=True):
        node = summary
        for key in keys[:-1]:
            node = node.setdefault(str(key), {})
        entry = {"n_runs": int(len(group))}
        for metric in metrics:
            values = group[metric].astype(float)
            std = values.std(ddof=1) if values.notna().sum() > 1 else float("nan")
            entry[metric] = {"mean": finite_or_none(float(values.mean())), "std": finite_or_none(float(std))}
        node[str(keys[-1])] = entry
    return summary


def _quantiles(values: pd.Series) -> dict[str, float | int | None]:
    """min / median / max of whole steps (the median may be a half step); None when absent."""
    values = pd.to_numeric(values, errors="coerce").dropna()
    if values.empty:
        return {"min": None, "median": None, "max": None}
    median = float(values.median())
    return {"min": int(values.min()), "median": int(median) if median.is_integer() else median, "max": int(values.max())}


def _chance_counts(group: pd.DataFrame) -> dict[str, Any]:
    """``{"at_chance": n, "runs_at_chance": [runs]}`` of one training set's runs (None without the flag)."""
    if group["at_chance"].isna().all():
        return {"at_chance": None, "runs_at_chance": None}
    flagged = group.loc[group["at_chance"].map(lambda v: str(v).lower() == "true"), "run"]
    return {"at_chance": int(len(flagged)), "runs_at_chance": sorted(int(r) for r in flagged)}


def summarize_convergence(per_run: pd.DataFrame) -> dict[str, dict]:
    """Per training set, where the runs' kept checkpoints lie (one row per run counts once, whatever
    the number of test cohorts in ``per_run``)::

        {trainset: {"n_runs", "selection", "step_cap": {min, median, max}, "kept_step": {...},
                    "stopped_step": {...}, "kept_in_last_fifth": count of runs, "stopped_early": count,
                    "at_chance": count of runs, "runs_at_chance": [run indices]}}

    Runs that recorded no kept step (trained before the selection was recorded) give None entries
    and counts of None; without an ``at_chance`` column (the evaluate stage's flag: validation
    balanced accuracy of the kept checkpoint at or below ``classify.evaluate.chance_balanced_accuracy``)
    the two chance entries are None.
    """
    summary: dict[str, dict] = {}
    columns = ("kept_step", "stopped_step", "step_cap", "kept_in_last_fifth", "stop_reason", "selection", "at_chance")
    frame = per_run.reindex(columns=["trainset", "run", *columns]).drop_duplicates(["trainset", "run"])
    for trainset, group in frame.groupby("trainset", sort=True):
        recorded = group["kept_step"].notna().all()
        last_fifth = group["kept_in_last_fifth"].map(lambda v: str(v).lower() == "true")
        summary[str(trainset)] = {
            "n_runs": int(len(group)),
            "selection": "/".join(sorted({str(v) for v in group["selection"].dropna()})) or None,
            "step_cap": _quantiles(group["step_cap"]),
            "kept_step": _quantiles(group["kept_step"]),
            "stopped_step": _quantiles(group["stopped_step"]),
            "kept_in_last_fifth": int(last_fifth.sum()) if recorded else None,
            "stopped_early": int((group["stop_reason"] == "patience").sum()) if recorded else None,
            **_chance_counts(group),
        }
    return summary
