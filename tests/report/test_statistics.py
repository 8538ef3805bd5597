"""medaug.report.statistics: t intervals over runs and paired differences, against hand computations and scipy."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from medaug.report import paired_difference, summarize


def test_summarize_t_interval_matches_hand_computation() -> None:
    s = summarize([0.70, 0.80, 0.75], 0.95)
    assert s.n == 3 and s.mean == pytest.approx(0.75) and s.std == pytest.approx(0.05)
    half = 4.302653 * 0.05 / math.sqrt(3)  # t_{0.975, 2}
    assert (s.low, s.high) == (pytest.approx(0.75 - half, abs=1e-6), pytest.approx(0.75 + half, abs=1e-6))
    wider = summarize([0.70, 0.80, 0.75], 0.99)
    assert wider.low < s.low and wider.high > s.high


def test_summarize_degenerate_inputs() -> None:
    single = summarize([0.7, float("nan")], 0.95)
    assert single.n == 1 and single.mean == pytest.approx(0.7) and math.isnan(single.std) and math.isnan(single.low)
    assert summarize([], 0.95).n == 0
    with pytest.raises(ValueError, match="confidence"):
        summarize([0.1, 0.2], 95)


def test_paired_difference_matches_scipy_paired_t() -> None:
    augmented, real = {0: 0.72, 1: 0.82, 2: 0.80, 3: 0.90}, {0: 0.70, 1: 0.80, 2: 0.75, 4: 0.5}
    paired = paired_difference(augmented, real, 0.95)
    assert paired.differences == pytest.approx({0: 0.02, 1: 0.02, 2: 0.05}) and paired.unpaired == (3, 4)
    # by hand: mean 0.03, sd sqrt((0.01² + 0.01² + 0.02²) / 2) = 0.01·sqrt(3), half width t_{0.975,2}·sd/sqrt(3)
    s = paired.summary
    assert s.n == 3 and s.mean == pytest.approx(0.03) and s.std == pytest.approx(0.01 * math.sqrt(3))
    assert (s.low, s.high) == (pytest.approx(0.03 - 0.04302653, abs=1e-7), pytest.approx(0.03 + 0.04302653, abs=1e-7))
    reference = stats.ttest_rel([0.72, 0.82, 0.80], [0.70, 0.80, 0.75]).confidence_interval(0.95)
    assert (s.low, s.high) == (pytest.approx(reference.low), pytest.approx(reference.high))
    low, high = stats.t.interval(0.95, df=2, loc=0.03, scale=0.01)   # sd / sqrt(n) = 0.01
    assert (s.low, s.high) == (pytest.approx(low), pytest.approx(high))
