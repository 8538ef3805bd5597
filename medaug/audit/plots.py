"""Audit figures (PNG, matplotlib Agg). Each function takes a tidy table written by the stage."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from medaug.io import write_figure  # noqa: E402


def _save(fig, path: str | os.PathLike, dpi: int) -> None:
    write_figure(fig, path, dpi, tight=True)


def _groups(table: pd.DataFrame) -> list[str]:
    """Set names in a stable order: held-out real first, then samplers as they appear."""
    names = list(dict.fromkeys(table["group"].astype(str)))
    return sorted(names, key=lambda n: (not n.startswith("real"), names.index(n)))


def memorisation_figure(neighbours: pd.DataFrame, l2_max: float, ssim_min: float, path: str | os.PathLike,
                        dpi: int = 100) -> None:
    """Histograms of the nearest-training L2 and SSIM per label; one colour per group.

    ``neighbours``: columns group (``real held-out`` or a sampler), label, nn_l2, nn_ssim.
    """
    labels = list(dict.fromkeys(neighbours["label"]))
    fig, axes = plt.subplots(len(labels), 2, figsize=(10, 3.2 * len(labels)), squeeze=False)
    for row, label in enumerate(labels):
        part = neighbours[neighbours["label"] == label]
        for col, (column, threshold, name) in enumerate((("nn_l2", l2_max, "RMS distance (lower = closer)"),
                                                          ("nn_ssim", ssim_min, "SSIM (higher = closer)"))):
            ax = axes[row, col]
            values = part[column].astype(float)
            bins = np.linspace(min(values.min(), threshold), max(values.max(), threshold), 30) if len(values) else 10
            for group in _groups(part):
                ax.hist(part.loc[part["group"] == group, column].astype(float), bins=bins, alpha=0.5,
                        density=True, label=group)
            ax.axvline(threshold, color="red", linestyle="--", label="near-copy threshold")
            ax.set_title(f"{label}: nearest training volume, {name}", fontsize=9)
            ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path, dpi)


def diversity_figure(diversity: pd.DataFrame, path: str | os.PathLike, dpi: int = 100) -> None:
    """Bars of mean pairwise MS-SSIM (+- sd) per group and label, in the mask and over the whole
    volume, and of the mean pairwise RMS difference (+- sd), each when the table has it. Columns:
    group, label, ms_ssim_mean, ms_ssim_std [, ms_ssim_mask_mean, ms_ssim_mask_std, rms_mean, rms_std]."""
    labels = list(dict.fromkeys(diversity["label"]))
    groups = _groups(diversity)
    panels = []
    if "ms_ssim_mask_mean" in diversity.columns:
        panels.append(("ms_ssim_mask", "mean pairwise MS-SSIM in the mask (lower = more diverse)"))
    panels.append(("ms_ssim", "mean pairwise MS-SSIM, whole volume"))
    if "rms_mean" in diversity.columns:
        panels.append(("rms", "mean pairwise RMS difference (higher = more diverse)"))
    width_in = 1.2 + 1.3 * len(groups) * len(labels) / 2
    fig, axes = plt.subplots(1, len(panels), figsize=(width_in * len(panels), 3.5), squeeze=False)
    width = 0.8 / max(len(labels), 1)
    for ax, (measure, ylabel) in zip(axes[0], panels):
        for k, label in enumerate(labels):
            part = diversity[diversity["label"] == label].set_index("group").reindex(groups)
            ax.bar(np.arange(len(groups)) + k * width, part[f"{measure}_mean"].astype(float), width,
                   yerr=part[f"{measure}_std"].astype(float).fillna(0), label=label, capsize=3)
        ax.set_xticks(np.arange(len(groups)) + width * (len(labels) - 1) / 2, groups, rotation=20, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path, dpi)


def fidelity_figure(fidelity: pd.DataFrame, path: str | os.PathLike, dpi: int = 100, positive: str | None = None) -> None:
    """Precision vs recall per group and label (mean over classifier runs). Columns: group, label, precision, recall.
    Points of the ``positive`` label (the classifier's, e.g. AD) are circles, the others squares."""
    fig, ax = plt.subplots(figsize=(4.5, 4))
    means = fidelity.groupby(["group", "label"], sort=False)[["precision", "recall"]].mean().reset_index()
    for _, row in means.iterrows():
        ax.scatter(row["recall"], row["precision"], marker="o" if row["label"] == positive else "s")
        ax.annotate(f"{row['group']} {row['label']}", (row["recall"], row["precision"]), fontsize=7)
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("recall (k-NN)")
    ax.set_ylabel("precision (k-NN)")
    ax.set_title("Classifier feature space (not an ImageNet FID)", fontsize=9)
    fig.tight_layout()
    _save(fig, path, dpi)


def regions_figure(regions: pd.DataFrame, path: str | os.PathLike, dpi: int = 100) -> None:
    """Box plots of the dark-voxel fraction per region, by group and label.

    ``regions``: columns group, label and one ``<region>_dark_fraction`` column per region.
    """
    columns = [c for c in regions.columns if c.endswith("_dark_fraction")]
    groups = _groups(regions)
    labels = list(dict.fromkeys(regions["label"]))
    fig, axes = plt.subplots(1, len(columns), figsize=(5 * len(columns), 3.8), squeeze=False)
    for ax, column in zip(axes[0], columns):
        data, names = [], []
        for group in groups:
            for label in labels:
                values = regions.loc[(regions["group"] == group) & (regions["label"] == label), column].astype(float)
                if len(values):
                    data.append(values.to_numpy())
                    names.append(f"{group}\n{label}")
        ax.boxplot(data)
        ax.set_xticks(np.arange(1, len(names) + 1), names, fontsize=7, rotation=30)
        ax.set_title(column.replace("_dark_fraction", "") + ": dark-voxel fraction (demo proxy)", fontsize=9)
    fig.tight_layout()
    _save(fig, path, dpi)
