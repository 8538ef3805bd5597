"""medaug.report.trainsets: the training sets in the thesis' row order, their samplers and baselines."""

from __future__ import annotations

from pathlib import Path

from medaug.report import training_sets
from medaug.report.trainsets import REAL, REAL_AND_SYNTHETIC, SYNTHETIC, baseline_of
from tests.report.test_writer import classify_params


def test_training_sets_thesis_order_and_samplers(tmp_path: Path) -> None:
    sets = training_sets(classify_params(tmp_path), "hmc")
    assert [s.name for s in sets] == ["real-50", "real", "syn-10", "real-syn-10", "real-syn-20", "prior-syn-10"]
    assert [s.kind for s in sets] == [REAL, REAL, SYNTHETIC, REAL_AND_SYNTHETIC, REAL_AND_SYNTHETIC, REAL_AND_SYNTHETIC]
    by_name = {s.name: s for s in sets}
    assert by_name["prior-syn-10"].sampler == "prior" and by_name["real-syn-10"].sampler == "hmc"
    assert by_name["real"].sampler is None
    assert by_name["real-syn-20"].label == "real (train) + synthetic 20 (hmc)"
    assert baseline_of(by_name["real-syn-20"], sets) == by_name["real"]
    assert baseline_of(by_name["real"], sets) is None and baseline_of(by_name["syn-10"], sets) is None
