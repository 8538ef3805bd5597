"""The audit stage's results as a markdown section: :func:`load_audit` reads them, :func:`audit_markdown` renders them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from medaug.audit.files import (
    CHECKS_TABLE,
    DIVERSITY_FIGURE,
    DIVERSITY_TABLE,
    FIDELITY_FIGURE,
    GAN_TABLE,
    MEMORISATION_FIGURE,
    MONTAGE,
    REGIONS_FIGURE,
    SUMMARY_TABLE,
)
from medaug.report import markdown as md

INTEGER_COLUMNS = ("near_copies", "pca_rank", "precision_recall_set_size")
CHECKS_COLUMNS = {
    "sampler": "sampler", "label": "label",
    "ms_ssim": "MS-SSIM synthetic", "ms_ssim_real_held_out": "MS-SSIM real held-out",
    "ms_ssim_limit": "MS-SSIM limit", "diversity_ok": "diversity ok",
    "precision": "precision", "recall": "recall", "precision_real_halves": "precision real-vs-real",
    "recall_real_halves": "recall real-vs-real", "precision_recall_set_size": "set size", "fidelity_ok": "fidelity ok",
    "near_copies": "near-copies", "share_closer_than_reconstructions": "closer than reconstructions",
    "memorisation_ok": "memorisation ok", "passed": "passed",
}
CONTEXT_COLUMNS = {
    "sampler": "sampler", "label": "label",
    "variance_share": "variance share", "variance_share_real_held_out": "variance share real held-out",
    "variance_share_reconstructions": "variance share reconstructions",
    "ms_ssim_reconstructions": "MS-SSIM reconstructions", "ms_ssim_pca_reference": "MS-SSIM PCA-d", "pca_rank": "d",
    "ms_ssim_whole_volume": "MS-SSIM whole volume", "ms_ssim_whole_volume_real_held_out": "whole volume real held-out",
    "reconstruction_nn_threshold": "reconstruction NN threshold",
}
DIVERSITY_COLUMNS = {
    "group": "set", "label": "label", "ms_ssim_mask_mean": "MS-SSIM in mask", "ms_ssim_mask_std": "sd",
    "ms_ssim_mean": "MS-SSIM whole volume", "ms_ssim_std": "MS-SSIM sd",
    "rms_mean": "RMS difference", "rms_std": "RMS sd", "variance_share": "variance share", "n_pairs": "pairs",
    "explained_variance": "variance explained (PCA-d)",
}
GAN_COLUMNS = {
    "sampler": "synthetic set", "gan_train_mean": "GAN-train BA", "gan_train_std": "GAN-train sd",
    "gan_test_mean": "GAN-test BA", "gan_test_std": "GAN-test sd", "baseline_mean": "real-on-real BA",
}
FIGURES = {
    MEMORISATION_FIGURE: "Nearest-training-neighbour distance: synthetic vs held-out real",
    DIVERSITY_FIGURE: "Mean pairwise MS-SSIM and RMS difference within each set",
    FIDELITY_FIGURE: "Precision / recall in the real classifier's feature space",
    REGIONS_FIGURE: "Demo regions: dark-voxel fraction, real vs synthetic",
}
SUMMARY_COLUMNS = {
    "sampler": "sampler", "label": "label",
    "share_closer_l2": "closer than any held-out (L2)", "share_closer_ssim": "closer than any held-out (SSIM)",
    "share_closer_than_reconstructions": "closer than reconstructions", "n_near_copies": "near-copies",
    "ms_ssim_mask_mean": "MS-SSIM in mask", "real_ms_ssim_mask_mean": "MS-SSIM in mask, real held-out",
    "variance_share": "variance share",
    "frechet_distance": "FD (classifier features)", "precision": "precision", "recall": "recall",
}


def _render(frame: pd.DataFrame, names: dict[str, str], decimals: int) -> str:
    columns = [c for c in names if c in frame.columns]
    shown = pd.DataFrame({names[c]: [_format(v, 0 if c.startswith("n_") or c in INTEGER_COLUMNS else decimals)
                                     for v in frame[c].tolist()]
                          for c in columns})
    return md.table(shown, align_right=[names[c] for c in columns if frame[c].dtype.kind in "fiu"])


def _format(value: object, decimals: int) -> str:
    """A table cell: booleans as yes / **no**, numbers by :func:`medaug.report.markdown.number`."""
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if value is None or value is pd.NA or isinstance(value, (int, float)):
        return md.number(None if value is pd.NA else value, decimals)
    return str(value)


@dataclass(frozen=True)
class AuditResults:
    """The audit stage's tables, read once (:func:`load_audit`), and the names of its figures that exist.

    ``summary``: ``audit.tsv``; ``checks``, ``diversity``, ``gan``: ``checks.tsv``, ``diversity.tsv``,
    ``gan.tsv`` (None when absent); ``figures``: (file name, caption) of every figure present, in
    :data:`FIGURES` order, then the per-label montages.
    """

    summary: pd.DataFrame
    checks: pd.DataFrame | None = None
    diversity: pd.DataFrame | None = None
    gan: pd.DataFrame | None = None
    figures: tuple[tuple[str, str], ...] = ()


def load_audit(results_dir: str | os.PathLike) -> AuditResults:
    """Read the audit's tables from ``results_dir``. Raises ``FileNotFoundError`` naming the summary
    table if it is missing; the other tables are optional."""
    results_dir = Path(results_dir)
    path = results_dir / SUMMARY_TABLE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: audit summary not found (run stage audit)")
    summary = pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False)
    optional = {name: _read(results_dir / name) if (results_dir / name).is_file() else None
                for name in (CHECKS_TABLE, DIVERSITY_TABLE)}
    gan_path = results_dir / GAN_TABLE
    gan = pd.read_csv(gan_path, sep="\t", na_values=["n/a"], keep_default_na=False) if gan_path.is_file() else None
    montages = {MONTAGE.format(label=label): f"{label}: random real, PCA-d and synthetic volumes, and each set's "
                "voxelwise sd" for label in dict.fromkeys(summary["label"].astype(str))}   # the audit's label order
    figures = tuple((name, caption) for name, caption in {**FIGURES, **montages}.items()
                    if (results_dir / name).is_file())
    return AuditResults(summary, optional[CHECKS_TABLE], optional[DIVERSITY_TABLE], gan, figures)


def audit_markdown(audit: AuditResults, link_prefix: str, decimals: int = 3, heading_level: int = 2) -> str:
    """Markdown of the audit: the acceptance checks, the summary table, the diversity of every set,
    GAN-train / GAN-test, the figures and the per-label montages. ``link_prefix``: how the page that
    holds this section reaches the audit's results folder."""
    hashes = "#" * heading_level
    lines = [
        f"{hashes} Synthetic-data audit", "",
        "Memorisation: share of synthetic volumes nearer (inside the brain mask) to a training volume than "
        "any held-out real volume is, near-copies flagged by threshold, and the blur-matched test: share of "
        "synthetic volumes nearer to a training volume than the model's own reconstructions of held-out "
        "volumes (as blurred as the samples) usually are. Diversity: mean pairwise MS-SSIM inside the brain "
        "mask (lower = more varied) and the variance share (in-mask voxelwise variance of a set / that of "
        "the real training volumes; about 1 for real volumes). Fidelity: Frechet distance (FD) and k-NN "
        "precision / recall at equal set sizes in the feature space of the classifier trained on real "
        "data — **not** an ImageNet / MedicalNet FID; `real held-out halves` is the real-vs-real baseline. "
        "GAN-train: trained on synthetic, tested on the real test split; GAN-test: trained on "
        "real, tested on synthetic (thesis table 1.2).", "",
        *checks_lines(audit.checks, decimals),
        _render(audit.summary, SUMMARY_COLUMNS, decimals), "",
        *_diversity_lines(audit.diversity, decimals),
    ]
    if audit.gan is not None:
        lines += ["GAN-train / GAN-test (balanced accuracy, mean and sd over classifier runs):", "",
                  _render(audit.gan, GAN_COLUMNS, decimals), ""]
    for name, caption in audit.figures:
        lines += [f"![{caption}]({link_prefix.rstrip('/')}/{name})", ""]
    return "\n".join(lines).rstrip() + "\n"


def _read(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False)
    for column in frame.columns:   # True / False / missing read back as booleans, counts as integers
        values = set(frame[column].dropna().astype(str))
        if values and values <= {"True", "False"}:
            frame[column] = [None if pd.isna(v) else str(v) == "True" for v in frame[column]]
    return frame


def _diversity_criterion(first: pd.Series) -> str:
    """The diversity bar in words, from the criterion column the audit wrote: a share of the real held-out
    dissimilarity, or (``checks.tsv`` with ``criterion_ms_ssim_margin``) an additive MS-SSIM margin."""
    if "criterion_min_dissimilarity_share" in first:
        return (f"the synthetic dissimilarity inside the brain mask (1 - MS-SSIM) is at least "
                f"{first['criterion_min_dissimilarity_share']} of that of the real held-out volumes (the MS-SSIM limit)")
    return (f"the synthetic MS-SSIM inside the brain mask is at most that of the real held-out volumes + "
            f"{first['criterion_ms_ssim_margin']}")


def checks_lines(checks: pd.DataFrame | None, decimals: int) -> list[str]:
    """The acceptance checks table (``checks.tsv``) with a sentence stating the criteria."""
    if checks is None or not len(checks):
        return []
    first = checks.iloc[0]
    quantile = first.get("reconstruction_quantile")
    quantile_text = f"{float(quantile):g} quantile" if quantile is not None and not pd.isna(quantile) else "quantile"
    return [
        f"Acceptance checks, per sampler and label: diversity ok when {_diversity_criterion(first)}; fidelity ok when "
        f"precision >= {first['criterion_min_precision']} and recall >= {first['criterion_min_recall']} (k-NN, "
        f"synthetic subsampled to half the held-out set and scored against the other half, mean over draws "
        f"and classifier runs; real-vs-real: one held-out half against the other); memorisation ok with at "
        f"most {first['criterion_max_near_copies']} near-copies and at most a share "
        f"{first['criterion_max_share_closer_than_reconstructions']} of synthetic volumes nearer to a training "
        f"volume than the {quantile_text} of the held-out reconstructions' nearest-training distances.", "",
        _render(checks, CHECKS_COLUMNS, decimals), "",
        "Context (not checked): variance share, in-mask MS-SSIM of the model's reconstructions of the held-out "
        "volumes and of the rank-d PCA reconstructions of the training volumes (d = the model's latent size), "
        "whole-volume MS-SSIM, and the blur-matched distance threshold (RMS in the mask).", "",
        _render(checks, CONTEXT_COLUMNS, decimals), "",
    ]


def _diversity_lines(diversity: pd.DataFrame | None, decimals: int) -> list[str]:
    """Mean pairwise MS-SSIM (whole volume) and RMS difference (brain mask) of every set (``diversity.tsv``)."""
    if diversity is None:
        return []
    return ["Diversity of every set: mean pairwise MS-SSIM (in the brain mask and over the whole volume, lower = "
            "more varied), RMS intensity difference (brain mask, higher = more varied) over the same seeded pairs "
            "for a set and its PCA-d reconstructions, and the variance share (in-mask voxelwise variance / that of "
            "the real training volumes).", "", _render(diversity, DIVERSITY_COLUMNS, decimals), ""]
