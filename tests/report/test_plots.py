"""medaug.report.plots: the balanced-accuracy figure, read back from the matplotlib figure it draws."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from medaug.report import plots
from medaug.report.trainsets import TrainingSet

SETS = [TrainingSet("real", "train", 0, None), TrainingSet("real-aug", "train", 0, None, augmentation=True),
        TrainingSet("syn-10", None, 10, "hmc"), TrainingSet("syn-20", None, 20, "hmc"),
        TrainingSet("real-syn-20", "train", 20, "hmc"), TrainingSet("real-syn-10", "train", 10, "hmc")]
BA = {"real": [0.70, 0.80], "real-aug": [0.9, 0.9], "syn-10": [0.50, 0.60], "syn-20": [0.55, 0.65],
      "real-syn-10": [0.75, 0.85], "real-syn-20": [0.80, 0.80]}


def _runs(cohorts) -> pd.DataFrame:
    rows = [{"trainset": name, "cohort": cohort, "run": run, "balanced_accuracy": ba + 0.01 * k}
            for k, cohort in enumerate(cohorts) for name, values in BA.items() for run, ba in enumerate(values)]
    return pd.DataFrame(rows)


@pytest.fixture()
def drawn(monkeypatch, tmp_path: Path):
    """The figure of two test cohorts, kept instead of written."""
    kept = {}
    monkeypatch.setattr(plots, "write_figure", lambda fig, path, *a, **k: kept.update(fig=fig, path=path))
    plots.balanced_accuracy_vs_synthetic(_runs(["test", "ext"]), SETS, ["test", "ext"], tmp_path / "ba.png", 40,
                                         (3.0, 2.0))
    yield kept
    import matplotlib.pyplot as plt

    plt.close(kept["fig"])


def test_one_panel_per_cohort_with_its_title(drawn):
    axes = drawn["fig"].axes
    assert [ax.get_title() for ax in axes] == ["test cohort: test", "test cohort: ext"]
    assert axes[0].get_ylabel() == "balanced accuracy (%)" and axes[0].get_xlabel() == "synthetic images per label"
    np.testing.assert_allclose(drawn["fig"].get_size_inches(), [6.0, 2.0])


def _line(ax, label):
    """The data line of the error-bar series (or plain line) labelled ``label``."""
    for container in ax.containers:
        if container.get_label() == label:
            return container.lines[0]
    return next(line for line in ax.get_lines() if line.get_label() == label)


def test_lines_are_mean_percent_by_number_of_synthetic_images(drawn):
    test, ext = drawn["fig"].axes
    mixed = _line(test, "hmc: real (train) + synthetic")
    np.testing.assert_allclose(np.asarray(mixed.get_xdata(), dtype=float), [10, 20])            # sorted by size
    np.testing.assert_allclose(np.asarray(mixed.get_ydata(), dtype=float), [80.0, 80.0])
    assert mixed.get_linestyle() == "-"
    synthetic = _line(ext, "hmc: synthetic only")
    np.testing.assert_allclose(np.asarray(synthetic.get_ydata(), dtype=float), [56.0, 61.0])    # + 1 point on the second cohort
    assert synthetic.get_linestyle() == "--"


def test_the_plain_real_set_is_a_band_at_its_mean_and_augmented_sets_are_left_out(drawn):
    test = drawn["fig"].axes[0]
    baseline = _line(test, "real (train) (mean ± sd)")
    np.testing.assert_allclose(baseline.get_ydata(), [75.0, 75.0])
    band = test.patches[0]
    sd = 100 * np.std([0.70, 0.80], ddof=1)
    np.testing.assert_allclose([band.get_y(), band.get_y() + band.get_height()], [75.0 - sd, 75.0 + sd])
    labels = [c.get_label() for c in test.containers] + [line.get_label() for line in test.get_lines()]
    assert not any("augmentation" in label for label in labels) and len(test.containers) == 2
    assert test.get_legend() is None and drawn["fig"].axes[1].get_legend() is not None


def test_the_figure_is_written_where_asked(tmp_path: Path):
    path = tmp_path / "ba.png"
    plots.balanced_accuracy_vs_synthetic(_runs(["test"]), SETS[:1], ["test"], path, 30, (2.0, 2.0))
    assert path.read_bytes().startswith(b"\x89PNG")
