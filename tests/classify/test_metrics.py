"""The classification metrics equal scikit-learn's, AD (1) being the positive class."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from medaug.classify.metrics import (
    balanced_accuracy_score,
    classification_metrics,
    roc_auc_score,
    sensitivity_score,
    specificity_score,
)


@pytest.mark.parametrize("seed", range(20))
def test_metrics_equal_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 60))
    y_true = rng.integers(0, 2, n)
    y_true[:2] = [0, 1]  # both classes present
    # rounded scores give ties, which the AUC must count one half
    y_score = np.round(np.clip(0.3 * y_true + rng.uniform(0, 0.8, n), 0, 1), 1)
    y_pred = (y_score > 0.5).astype(int)
    assert balanced_accuracy_score(y_true, y_pred) == pytest.approx(skm.balanced_accuracy_score(y_true, y_pred), abs=1e-12)
    assert sensitivity_score(y_true, y_pred) == pytest.approx(skm.recall_score(y_true, y_pred, pos_label=1), abs=1e-12)
    assert specificity_score(y_true, y_pred) == pytest.approx(skm.recall_score(y_true, y_pred, pos_label=0), abs=1e-12)
    assert roc_auc_score(y_true, y_score) == pytest.approx(skm.roc_auc_score(y_true, y_score), abs=1e-12)


def test_hand_computed_case() -> None:
    y_true = [1, 1, 1, 1, 0, 0]
    y_pred = [1, 1, 1, 0, 0, 1]
    out = classification_metrics(y_true, y_pred, [0.9, 0.8, 0.7, 0.2, 0.1, 0.6])
    assert out["sensitivity"] == 0.75 and out["specificity"] == 0.5
    assert out["balanced_accuracy"] == 0.625
    assert out["roc_auc"] == pytest.approx(7 / 8)  # 0.2 < 0.6 is the one mis-ordered pair
    assert (out["n_AD"], out["n_CN"]) == (4, 2)
    assert list(out) == ["balanced_accuracy", "sensitivity", "specificity", "roc_auc", "n_AD", "n_CN"]


def test_counts_are_named_after_the_configured_labels() -> None:
    out = classification_metrics([1, 1, 0], [1, 0, 0], [0.9, 0.4, 0.1], count_keys=("n_PD", "n_HC"))
    assert list(out)[-2:] == ["n_PD", "n_HC"] and (out["n_PD"], out["n_HC"]) == (2, 1)
    assert out["sensitivity"] == 0.5 and out["specificity"] == 1.0   # sensitivity: recall of the positive (PD)


def test_single_class_gives_nan_not_an_error() -> None:
    out = classification_metrics([1, 1, 1], [1, 0, 1], [0.9, 0.2, 0.8])
    assert math.isnan(out["specificity"]) and math.isnan(out["roc_auc"])
    assert out["balanced_accuracy"] == pytest.approx(2 / 3)  # mean recall over the classes present


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="0 \\(negative\\) and 1 \\(positive\\)"):
        sensitivity_score([0, 2], [0, 1])
    with pytest.raises(ValueError, match="differ in length"):
        balanced_accuracy_score([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="NaN"):
        roc_auc_score([0, 1], [0.1, float("nan")])
