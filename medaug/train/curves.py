"""Training curves: one row per epoch, written as a TSV table and a PNG figure (both atomic)."""

from __future__ import annotations

import math
import os

import pandas as pd

from medaug.io import write_figure, write_tsv

__all__ = ["LEADING_COLUMNS", "RUN_COLUMNS", "history_row", "write_training_curves"]

RUN_COLUMNS = ("seconds",)
"""History columns that differ from run to run and stay out of the curve table."""

LEADING_COLUMNS = ("epoch", "warmup", "train_elbo", "val_elbo")
"""The curve table's first columns; the others follow in alphabetical order, so the table does not
depend on the order of the history's keys (a run resumed from a saved state reads them back sorted)."""


def history_row(epoch: int, warming_up: bool, train_stats: dict[str, float], val_elbo: float, learning_rate: float,
                seconds: float) -> dict[str, float]:
    """One epoch of the history: the training ELBO and its terms (``train_<term>``, nats per sample),
    the validation bound (NaN without a validation set), the base learning rate and the wall seconds."""
    return {"epoch": epoch, "warmup": int(warming_up), "train_elbo": train_stats["elbo"], "val_elbo": val_elbo,
            **{f"train_{k}": v for k, v in train_stats.items() if k != "elbo"},
            "learning_rate": learning_rate, "seconds": seconds}


def write_training_curves(history: list[dict[str, float]], tsv_path: str | os.PathLike, png_path: str | os.PathLike | None, best_epoch: int | None = None) -> None:
    """Write ``history`` (dicts with at least ``epoch`` and ``train_elbo``; ``val_elbo`` optional).

    ``png_path`` None writes the table only. The table leaves out :data:`RUN_COLUMNS` (wall-clock
    seconds), so that a rerun writes the same bytes and DVC sees an unchanged output; the stage
    reports timings in its metrics instead.
    The figure plots the per-sample ELBO (nats) of the training set and, when present, of the
    validation set against the epoch, and marks the selected (best) epoch and, when the history
    has a ``warmup`` column, the end of the warm-up on the plain VAE bound (those epochs are
    shaded: their training ELBO is the VAE bound, not the RHVAE's).
    """
    frame = pd.DataFrame(history)
    frame = frame.drop(columns=list(RUN_COLUMNS), errors="ignore")
    leading = [c for c in LEADING_COLUMNS if c in frame.columns]
    write_tsv(frame[leading + sorted(set(frame.columns) - set(leading))], tsv_path)
    if png_path is None:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 4.0), dpi=100)
    if not frame.empty:
        ax.plot(frame["epoch"], frame["train_elbo"], label="train ELBO")
        if "val_elbo" in frame and frame["val_elbo"].notna().any():
            ax.plot(frame["epoch"], frame["val_elbo"], label="validation VAE bound (model selection)")
        if "warmup" in frame and (frame["warmup"] == 1).any():
            last_warmup = float(frame.loc[frame["warmup"] == 1, "epoch"].max())
            ax.axvspan(float(frame["epoch"].min()) - 0.5, last_warmup + 0.5, color="orange", alpha=0.12,
                       label=f"warm-up on the VAE bound (epochs 1-{int(last_warmup)})")
        if best_epoch is not None and best_epoch > 0:
            ax.axvline(best_epoch, color="grey", linestyle="--", linewidth=1, label=f"selected epoch {best_epoch}")
        finite = pd.concat([frame["train_elbo"], frame.get("val_elbo", pd.Series(dtype=float))]).replace([math.inf, -math.inf], math.nan).dropna()
        if len(finite) > 4:
            # the first epochs can be orders of magnitude below the rest; keep the plateau readable
            low, high = finite.quantile(0.1), finite.max()
            margin = 0.05 * (high - low) if high > low else 1.0
            ax.set_ylim(low - margin, high + margin)
    ax.set_xlabel("epoch")
    ax.set_ylabel("ELBO per sample (nats)")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    write_figure(fig, png_path)
