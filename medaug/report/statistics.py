"""Summaries of a metric over classifier runs: mean, standard deviation and a t confidence interval,
for one training set (:func:`summarize`) or for the per-run difference of two (:func:`paired_difference`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class RunSummary:
    """Mean, sample standard deviation (ddof=1) and a two-sided t interval of the mean over ``n`` runs.

    With fewer than two finite values the standard deviation and the interval are NaN.
    """

    mean: float
    std: float
    n: int
    low: float
    high: float


def summarize(values: Iterable[float], confidence: float) -> RunSummary:
    """``mean ± t_{(1+confidence)/2, n-1} * std / sqrt(n)`` over the finite ``values``."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    array = np.asarray([float(v) for v in values], dtype=float)
    array = array[np.isfinite(array)]
    n = int(array.size)
    if n == 0:
        return RunSummary(math.nan, math.nan, 0, math.nan, math.nan)
    mean = float(array.mean())
    if n < 2:
        return RunSummary(mean, math.nan, n, math.nan, math.nan)
    std = float(array.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2.0, df=n - 1)) * std / math.sqrt(n)
    return RunSummary(mean, std, n, mean - half, mean + half)


@dataclass(frozen=True)
class PairedDifference:
    """Per-run differences ``treatment - reference`` of one metric over the runs both have (paired
    by run index: same seed, same test images) and their :class:`RunSummary` (a paired t interval).

    ``differences`` maps run index -> difference, in run order; ``unpaired`` lists the runs only one
    side has (left out of the interval).
    """

    differences: dict[int, float]
    summary: RunSummary
    unpaired: tuple[int, ...] = ()


def paired_difference(treatment: Mapping[int, float], reference: Mapping[int, float],
                      confidence: float) -> PairedDifference:
    """Mean of ``treatment[k] - reference[k]`` over the runs ``k`` of both, with the two-sided
    Student t interval on ``n - 1`` degrees of freedom (the paired t interval, scipy's ``ttest_rel``)."""
    runs = sorted(set(treatment) & set(reference))
    differences = {int(k): float(treatment[k]) - float(reference[k]) for k in runs}
    unpaired = tuple(sorted(int(k) for k in set(treatment) ^ set(reference)))
    return PairedDifference(differences, summarize(differences.values(), confidence), unpaired)
