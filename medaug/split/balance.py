"""Are two sets of participants alike? Per-label p-values of age, sex and site (thesis sec. 1.5.4).

Age is compared with Welch's two-sample t-test, categorical columns (sex, site) with Pearson's
chi-square test of independence on the set x category contingency table (no Yates correction),
both from :mod:`scipy.stats`. A large p-value means no detectable difference.

A test that cannot be computed (a set with fewer than two ages, or ages constant in both sets) gives
``nan``: tiny cohorts must stay splittable, so ``nan`` never blocks a draw; it is reported as null.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

#: Test applied to each balance column.
TESTS = ("ttest", "chi2")


def _values(x: pd.Series | np.ndarray) -> np.ndarray:
    return x.to_numpy() if isinstance(x, pd.Series) else np.asarray(x)


def ttest_pvalue(a: pd.Series | np.ndarray, b: pd.Series | np.ndarray) -> float:
    """Welch's t-test p-value between two samples of a numeric column (n/a dropped)."""
    a = _values(a).astype(float)
    b = _values(b).astype(float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) < 2 or len(b) < 2:
        return math.nan
    if np.ptp(np.concatenate([a, b])) == 0:
        return math.nan
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def chi2_pvalue(a: pd.Series | np.ndarray, b: pd.Series | np.ndarray) -> float:
    """Chi-square p-value of independence between set membership and a categorical column.

    Categories are those seen in either sample (n/a dropped); a single category gives 1.0.
    """
    a = np.array([str(v) for v in _values(a) if not pd.isna(v)], dtype=object)
    b = np.array([str(v) for v in _values(b) if not pd.isna(v)], dtype=object)
    if len(a) == 0 or len(b) == 0:
        return math.nan
    categories, codes = np.unique(np.concatenate([a, b]), return_inverse=True)
    table = np.stack([
        np.bincount(codes[: len(a)], minlength=len(categories)),
        np.bincount(codes[len(a):], minlength=len(categories)),
    ])
    return float(stats.chi2_contingency(table, correction=False).pvalue)


@dataclass(frozen=True)
class BalanceCriteria:
    """Minimum p-value per column; the column's test is given by ``tests``.

    Attributes:
        p_min: column -> smallest acceptable p-value (e.g. ``{"age": 0.2, "sex": 0.2}``).
        tests: column -> ``"ttest"`` or ``"chi2"``; defaults: ``age`` t-test, others chi-square.
    """

    p_min: Mapping[str, float]
    tests: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        for column, p in self.p_min.items():
            if not 0.0 <= float(p) <= 1.0:
                raise ValueError(f"p_min[{column!r}] must lie in [0, 1], got {p}")
        for column, test in self.test_of.items():
            if test not in TESTS:
                raise ValueError(f"test of {column!r} must be one of {TESTS}, got {test!r}")

    @property
    def test_of(self) -> dict[str, str]:
        tests = dict(self.tests or {})
        return {c: tests.get(c, "ttest" if c == "age" else "chi2") for c in self.p_min}


PValues = dict[str, dict[str, float]]  # label -> column -> p-value


def balance_pvalues(
    a: pd.DataFrame, b: pd.DataFrame, criteria: BalanceCriteria, label_column: str = "diagnosis"
) -> PValues:
    """p-values of every criteria column between sets ``a`` and ``b``, within each label.

    Labels are those present in either set, sorted.
    """
    missing = [c for c in [label_column, *criteria.p_min] if c not in a.columns or c not in b.columns]
    if missing:
        raise ValueError(f"balance column(s) {missing} not in the cohort table (columns: {list(a.columns)})")
    tests = {"ttest": ttest_pvalue, "chi2": chi2_pvalue}
    a_labels, b_labels = a[label_column].to_numpy(), b[label_column].to_numpy()
    result: PValues = {}
    for label in sorted(set(a_labels) | set(b_labels)):
        in_a, in_b = a_labels == label, b_labels == label
        result[str(label)] = {
            column: tests[test](a[column].to_numpy()[in_a], b[column].to_numpy()[in_b])
            for column, test in criteria.test_of.items()
        }
    return result


def balance_margin(pvalues: PValues, criteria: BalanceCriteria) -> float:
    """Smallest ``p - p_min`` over labels and columns (``nan`` p-values skipped); >= 0 means balanced.

    Used to rank draws: the draw with the largest margin is the best one found.
    """
    margins = [
        p - float(criteria.p_min[column])
        for per_column in pvalues.values()
        for column, p in per_column.items()
        if not math.isnan(p)
    ]
    return min(margins, default=math.inf)


def is_balanced(pvalues: PValues, criteria: BalanceCriteria) -> bool:
    """Whether every balance test passes its threshold (:func:`balance_margin` is not negative)."""
    return balance_margin(pvalues, criteria) >= 0.0
