"""Summaries of a metric over classifier runs: mean, standard deviation and a t confidence interval."""

from __future__ import annotations

import math
from collections.abc import Iterable
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
