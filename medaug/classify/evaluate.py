"""Predictions of a trained classifier on test cohorts, their metrics, and summaries over runs."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import torch

from medaug.classify.data import LABELS, VolumeSet
from medaug.classify.metrics import classification_metrics
from medaug.classify.train import predict_logits
from medaug.io import finite_or_none
from medaug.runtime import resolve_device

METRIC_NAMES = ("balanced_accuracy", "sensitivity", "specificity", "roc_auc")


def predict(model: torch.nn.Module, volumes: VolumeSet, batch_size: int = 32, device: str = "auto") -> pd.DataFrame:
    """One row per image: the volume table plus ``y_true``, ``probability_AD`` and ``predicted``.

    The predicted label is the class of highest probability (``probability_AD > 0.5``).
    """
    torch_device = resolve_device(device)
    model = model.to(torch_device)
    logits = predict_logits(model, volumes.images, batch_size, torch_device)
    probability = torch.softmax(logits.double(), dim=1)[:, 1].numpy()
    frame = volumes.table.reset_index(drop=True).copy()
    frame["y_true"] = volumes.labels.numpy()
    frame["probability_AD"] = probability
    frame["predicted"] = [LABELS[i] for i in logits.argmax(1).tolist()]
    return frame


def prediction_metrics(predictions: pd.DataFrame) -> dict[str, float]:
    """Metrics of one prediction table (columns ``y_true``, ``predicted``, ``probability_AD``)."""
    y_pred = predictions["predicted"].map({label: i for i, label in enumerate(LABELS)}).to_numpy()
    return classification_metrics(predictions["y_true"].to_numpy(), y_pred, predictions["probability_AD"].to_numpy())


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
