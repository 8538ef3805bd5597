"""Audit figures (medaug.audit.plots): each writes one PNG from a tidy table of the stage."""

from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from medaug.audit import plots


def _png_size(path) -> tuple[int, int]:
    """(height, width) in pixels of a PNG written by the figure functions."""
    return mpimg.imread(path).shape[:2]


def test_real_groups_come_first_then_the_samplers_in_table_order():
    table = pd.DataFrame({"group": ["hmc", "prior", "real held-out", "hmc", "real train"]})
    assert plots._groups(table) == ["real held-out", "real train", "hmc", "prior"]


def test_memorisation_figure_has_one_row_of_panels_per_label(tmp_path):
    rng = np.random.default_rng(0)
    rows = [{"group": g, "label": lab, "nn_l2": rng.uniform(0.1, 0.3), "nn_ssim": rng.uniform(0.5, 0.9)}
            for g in ("real held-out", "prior") for lab in ("AD", "CN") for _ in range(5)]
    one, two = tmp_path / "one.png", tmp_path / "two.png"
    table = pd.DataFrame(rows)
    plots.memorisation_figure(table[table["label"] == "AD"], 0.05, 0.95, one, dpi=50)
    plots.memorisation_figure(table, 0.05, 0.95, two, dpi=50)
    (h1, w1), (h2, w2) = _png_size(one), _png_size(two)
    assert w1 == w2 and h2 > 1.8 * h1


def _diversity(extra: bool) -> pd.DataFrame:
    rows = []
    for group in ("prior", "real held-out"):
        for label in ("AD", "CN"):
            row = {"group": group, "label": label, "ms_ssim_mean": 0.6, "ms_ssim_std": 0.05}
            if extra:
                row.update(ms_ssim_mask_mean=0.5, ms_ssim_mask_std=0.04, rms_mean=0.1, rms_std=np.nan)
            rows.append(row)
    return pd.DataFrame(rows)


def test_diversity_figure_draws_a_panel_per_measure_the_table_has(tmp_path):
    plots.diversity_figure(_diversity(False), tmp_path / "one.png", dpi=50)
    plots.diversity_figure(_diversity(True), tmp_path / "three.png", dpi=50)
    assert _png_size(tmp_path / "three.png")[1] > 2.5 * _png_size(tmp_path / "one.png")[1]


def test_a_diversity_table_without_its_measure_fails_and_writes_nothing(tmp_path):
    with pytest.raises(KeyError, match="ms_ssim_mean"):
        plots.diversity_figure(_diversity(False).drop(columns=["ms_ssim_mean"]), tmp_path / "bad.png")
    assert list(tmp_path.iterdir()) == []


def test_fidelity_and_regions_figures_are_written(tmp_path):
    fidelity = pd.DataFrame({"group": ["prior", "prior", "hmc"], "label": ["AD", "AD", "CN"],
                             "precision": [0.5, 0.7, 0.9], "recall": [0.4, 0.6, 0.2]})
    plots.fidelity_figure(fidelity, tmp_path / "fidelity.png", dpi=50)
    regions = pd.DataFrame({"group": ["real held-out"] * 2 + ["prior"] * 2, "label": ["AD", "CN"] * 2,
                            "hippocampus_dark_fraction": [0.1, 0.05, 0.12, 0.04],
                            "ventricles_dark_fraction": [0.3, 0.2, 0.28, 0.22]})
    plots.regions_figure(regions, tmp_path / "regions.png", dpi=50)
    one_region = regions.drop(columns=["ventricles_dark_fraction"])
    plots.regions_figure(one_region, tmp_path / "one_region.png", dpi=50)
    assert _png_size(tmp_path / "fidelity.png")[0] > 100
    assert _png_size(tmp_path / "regions.png")[1] > 1.8 * _png_size(tmp_path / "one_region.png")[1]
