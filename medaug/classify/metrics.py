"""Binary classification metrics: class id 1 is the positive label (AD in the thesis and the demo),
0 the negative one (CN); :class:`medaug.classify.labels.ClassLabels` names them.

Pure functions over 1D arrays, named and defined as in scikit-learn (tests check equality):
``balanced_accuracy_score`` is the mean recall over the classes present in ``y_true``;
``roc_auc_score`` is the Mann-Whitney statistic with tied scores counted one half.
Undefined values (no positive or no negative participant) are NaN, never an exception, so one
degenerate test cohort does not stop an evaluation.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import rankdata


def _binary(y: ArrayLike, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1D, got shape {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"{name} must hold 0 (negative) and 1 (positive) only, got {sorted(set(y.tolist()))}")
    return y.astype(int)


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = _binary(y_true, "y_true"), _binary(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {y_true.shape} vs {y_pred.shape}")
    return y_true, y_pred


def _ratio(numerator: int, denominator: int) -> float:
    return float(numerator / denominator) if denominator else float("nan")


def sensitivity_score(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Recall of the positive class (AD): TP / (TP + FN); NaN without any positive participant."""
    y_true, y_pred = _pair(y_true, y_pred)
    return _ratio(int(((y_true == 1) & (y_pred == 1)).sum()), int((y_true == 1).sum()))


def specificity_score(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Recall of the negative class (CN): TN / (TN + FP); NaN without any negative participant."""
    y_true, y_pred = _pair(y_true, y_pred)
    return _ratio(int(((y_true == 0) & (y_pred == 0)).sum()), int((y_true == 0).sum()))


def balanced_accuracy_score(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean of sensitivity and specificity over the classes present in ``y_true`` (NaN if empty)."""
    recalls = [r for r in (sensitivity_score(y_true, y_pred), specificity_score(y_true, y_pred)) if not np.isnan(r)]
    return float(np.mean(recalls)) if recalls else float("nan")


def roc_auc_score(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Area under the ROC curve of scores ``y_score`` (higher = more positive, e.g. AD); NaN unless both classes occur."""
    y_true = _binary(y_true, "y_true")
    y_score = np.asarray(y_score, dtype=float)
    if y_score.shape != y_true.shape:
        raise ValueError(f"y_true and y_score differ in shape: {y_true.shape} vs {y_score.shape}")
    if not np.isfinite(y_score).all():
        raise ValueError("y_score holds NaN or infinite values")
    n_pos, n_neg = int(y_true.sum()), int((1 - y_true).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(y_score)  # average ranks: ties count one half
    return float((ranks[y_true == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def classification_metrics(y_true: ArrayLike, y_pred: ArrayLike, y_score: ArrayLike,
                           count_keys: tuple[str, str] = ("n_AD", "n_CN")) -> dict[str, float]:
    """``{balanced_accuracy, sensitivity, specificity, roc_auc, <n positive>, <n negative>}`` of one
    prediction set; ``count_keys`` names the two counts, positive first
    (:attr:`medaug.classify.labels.ClassLabels.count_keys`; the demo: ``n_AD``, ``n_CN``)."""
    y_true, y_pred = _pair(y_true, y_pred)
    positive_key, negative_key = count_keys
    return {
        "balanced_accuracy": balanced_accuracy_score(y_true, y_pred),
        "sensitivity": sensitivity_score(y_true, y_pred),
        "specificity": specificity_score(y_true, y_pred),
        "roc_auc": roc_auc_score(y_true, y_score),
        positive_key: int((y_true == 1).sum()),
        negative_key: int((y_true == 0).sum()),
    }
