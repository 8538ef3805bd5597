"""Report figures (matplotlib, PNG, written atomically)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pandas as pd

from medaug.report.trainsets import REAL, REAL_AND_SYNTHETIC, SYNTHETIC, TrainingSet
from medaug.io import write_figure


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _mean_std(runs: pd.DataFrame, trainset: str, cohort: str) -> tuple[float, float]:
    values = runs[(runs["trainset"] == trainset) & (runs["cohort"] == cohort)]["balanced_accuracy"].astype(float)
    std = values.std(ddof=1) if values.notna().sum() > 1 else 0.0
    return 100.0 * float(values.mean()), 100.0 * float(std)


def balanced_accuracy_vs_synthetic(runs: pd.DataFrame, sets: Sequence[TrainingSet], cohorts: Sequence[str],
                                   path: str | os.PathLike, dpi: int, panel_size: tuple[float, float]) -> None:
    """One panel per test cohort: balanced accuracy (mean ± sd over runs, percent) against the number
    of synthetic images per label, one line per sampler (and real split); solid lines are real +
    synthetic, dashed lines synthetic only. Each plain real-only set is a horizontal band (mean ± sd).
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(cohorts), figsize=(panel_size[0] * len(cohorts), panel_size[1]),
                             dpi=dpi, squeeze=False, sharey=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    lines: dict[tuple[str, str | None, str | None], list[TrainingSet]] = {}
    for trainset in sets:
        if trainset.kind in (SYNTHETIC, REAL_AND_SYNTHETIC) and not trainset.augmentation:
            lines.setdefault((trainset.kind, trainset.sampler, trainset.real), []).append(trainset)
    samplers = list(dict.fromkeys(key[1] for key in lines))
    baselines = [s for s in sets if s.kind == REAL and not s.augmentation]
    for ax, cohort in zip(axes[0], cohorts):
        for index, baseline in enumerate(baselines):
            mean, std = _mean_std(runs, baseline.name, cohort)
            colour = "0.5" if index == 0 else colours[(len(samplers) + index) % len(colours)]
            ax.axhspan(mean - std, mean + std, color=colour, alpha=0.2, linewidth=0)
            ax.axhline(mean, color=colour, linestyle=":", label=f"{baseline.label} (mean ± sd)")
        for (kind, sampler, real), members in lines.items():
            members = sorted(members, key=lambda s: s.n_synthetic)
            stats = [_mean_std(runs, s.name, cohort) for s in members]
            name = f"{sampler}: real ({real}) + synthetic" if kind == REAL_AND_SYNTHETIC else f"{sampler}: synthetic only"
            ax.errorbar([s.n_synthetic for s in members], [m for m, _ in stats], yerr=[s for _, s in stats],
                        color=colours[samplers.index(sampler) % len(colours)], marker="o", capsize=3,
                        linestyle="-" if kind == REAL_AND_SYNTHETIC else "--",
                        fillstyle="full" if kind == REAL_AND_SYNTHETIC else "none", label=name)
        ax.set_title(f"test cohort: {cohort}")
        ax.set_xlabel("synthetic images per label")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("balanced accuracy (%)")
    handles, labels = axes[0][-1].get_legend_handles_labels()
    if handles:
        axes[0][-1].legend(handles, labels, loc="best", fontsize="small")
    fig.tight_layout()
    write_figure(fig, path)
