"""The audit as a markdown section, for the report stage: :func:`audit_markdown`."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

SUMMARY_TABLE = "audit.tsv"
GAN_TABLE = "gan.tsv"
GAN_COLUMNS = {
    "sampler": "synthetic set", "gan_train_mean": "GAN-train BA", "gan_train_std": "GAN-train sd",
    "gan_test_mean": "GAN-test BA", "gan_test_std": "GAN-test sd", "baseline_mean": "real-on-real BA",
}
FIGURES = {
    "memorisation.png": "Nearest-training-neighbour distance: synthetic vs held-out real",
    "diversity.png": "Mean pairwise MS-SSIM within each set",
    "fidelity.png": "Precision / recall in the real classifier's feature space",
    "regions.png": "Demo regions: dark-voxel fraction, real vs synthetic",
}
SUMMARY_COLUMNS = {
    "sampler": "sampler", "label": "label",
    "share_closer_l2": "closer than any held-out (L2)", "share_closer_ssim": "closer than any held-out (SSIM)",
    "n_near_copies": "near-copies",
    "ms_ssim_mean": "MS-SSIM synthetic", "real_ms_ssim_mean": "MS-SSIM real",
    "frechet_distance": "FD (classifier features)", "precision": "precision", "recall": "recall",
}


def _render(frame: pd.DataFrame, names: dict[str, str], decimals: int) -> str:
    from medaug.evaluate.markdown import table as markdown_table  # the report's own table renderer

    columns = [c for c in names if c in frame.columns]
    shown = pd.DataFrame({names[c]: [_format(v, 0 if c.startswith("n_") else decimals) for v in frame[c].tolist()]
                          for c in columns})
    return markdown_table(shown, align_right=[names[c] for c in columns if frame[c].dtype.kind in "fiu"])


def _format(value: object, decimals: int) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{decimals}f}"
    return str(value)


def audit_markdown(results_dir: str | os.PathLike, link_prefix: str | None = None, decimals: int = 3,
                   heading_level: int = 2) -> str:
    """Markdown of the audit: the summary table of ``<results_dir>/audit.tsv`` and figure links.

    ``link_prefix``: how the report reaches ``results_dir`` (default: the path as given). Figures
    that do not exist are left out. Raises ``FileNotFoundError`` naming the table if it is missing.
    """
    results_dir = Path(results_dir)
    path = results_dir / SUMMARY_TABLE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: audit summary not found (run stage audit)")
    summary = pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False)
    prefix = str(results_dir) if link_prefix is None else link_prefix
    hashes = "#" * heading_level
    lines = [
        f"{hashes} Synthetic-data audit", "",
        "Memorisation: share of synthetic volumes nearer (inside the brain mask) to a training volume than "
        "any held-out real volume is, and near-copies flagged by threshold. Diversity: mean pairwise "
        "MS-SSIM (lower = more varied). Fidelity: Frechet distance (FD) and k-NN precision / recall in "
        "the feature space of the classifier trained on real data — **not** an ImageNet / MedicalNet "
        "FID. GAN-train: trained on synthetic, tested on the real test split; GAN-test: trained on "
        "real, tested on synthetic (thesis table 1.2).", "",
        _render(summary, SUMMARY_COLUMNS, decimals), "",
    ]
    gan_path = results_dir / GAN_TABLE
    if gan_path.is_file():
        gan = pd.read_csv(gan_path, sep="\t", na_values=["n/a"], keep_default_na=False)
        lines += ["GAN-train / GAN-test (balanced accuracy, mean and sd over classifier runs):", "",
                  _render(gan, GAN_COLUMNS, decimals), ""]
    for name, caption in FIGURES.items():
        if (results_dir / name).is_file():
            lines += [f"![{caption}]({prefix.rstrip('/')}/{name})", ""]
    return "\n".join(lines).rstrip() + "\n"
