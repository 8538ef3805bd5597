"""The audit's summary tables and its DVC metrics document, from the tidy per-measure tables.

Group names used in every table: :data:`REAL_TRAIN` (the generators' training volumes),
:data:`HELD_OUT` (real volumes they never saw), :data:`RECONSTRUCTIONS` (the model's
reconstructions of the held-out volumes, :mod:`medaug.audit.reconstruction`), :data:`PCA_REFERENCE`
(rank-d PCA reconstructions of the training volumes, :mod:`medaug.audit.reference`; information
only), :data:`REAL_HALVES` (the real-vs-real precision / recall baseline) and one group per sampler.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from medaug.audit.checks import acceptance_checks
from medaug.io import finite_or_none

HELD_OUT = "real held-out"
REAL_TRAIN = "real train"
PCA_REFERENCE = "real train PCA-d"
RECONSTRUCTIONS = "real held-out reconstructed"
REAL_HALVES = "real held-out halves"
COUNT_COLUMNS = ("n_synthetic", "n_held_out", "n_near_copies", "n_reconstructions")
FIDELITY_MEASURES = ("frechet_distance", "precision", "recall", "precision_sd", "recall_sd")


def _value(frame: pd.DataFrame, key: tuple[str, str], column: str) -> Any:
    if key not in frame.index or column not in frame.columns:
        return None
    return finite_or_none(frame.loc[key, column])


def fidelity_means(fidelity: pd.DataFrame) -> pd.DataFrame:
    """Frechet distance, precision and recall (and their sds over draws) per (group, label), averaged
    over classifier runs; missing values are skipped."""
    columns = [c for c in FIDELITY_MEASURES if c in fidelity.columns]
    numeric = fidelity.assign(**{c: pd.to_numeric(fidelity[c], errors="coerce") for c in columns})
    return numeric.groupby(["group", "label"])[columns].mean()


def summary_table(samplers: Sequence[str], labels: Sequence[str], memorisation: Mapping[tuple[str, str], dict],
                  diversity: pd.DataFrame, fidelity: pd.DataFrame) -> pd.DataFrame:
    """One row per (sampler, label), after reference rows per label for the real training split and
    the real-vs-real precision / recall baseline.

    Args:
        memorisation: (sampler, label) -> :func:`~medaug.audit.memorisation.memorisation_summary`
            merged with :func:`~medaug.audit.memorisation.reconstruction_matched_test`.
        diversity: columns group, label, ms_ssim_mean, ms_ssim_mask_mean, rms_mean, variance_share
            (:func:`~medaug.audit.diversity.diversity_table`).
        fidelity: columns group, label, run, frechet_distance, precision, recall.
    """
    div_index = diversity.set_index(["group", "label"])
    fid_mean = fidelity_means(fidelity)
    rows = []
    for group in [REAL_TRAIN, REAL_HALVES, *samplers]:
        for label in labels:
            row = {"sampler": group, "label": label, **memorisation.get((group, label), {})}
            row["ms_ssim_mask_mean"] = _value(div_index, (group, label), "ms_ssim_mask_mean")
            row["real_ms_ssim_mask_mean"] = _value(div_index, (HELD_OUT, label), "ms_ssim_mask_mean")
            row["ms_ssim_mean"] = _value(div_index, (group, label), "ms_ssim_mean")
            row["real_ms_ssim_mean"] = _value(div_index, (HELD_OUT, label), "ms_ssim_mean")
            row["rms_mean"] = _value(div_index, (group, label), "rms_mean")
            row["variance_share"] = _value(div_index, (group, label), "variance_share")
            if (group, label) in fid_mean.index:
                row.update(fid_mean.loc[(group, label)].to_dict())
            rows.append(row)
    frame = pd.DataFrame(rows)
    for column in COUNT_COLUMNS:   # counts stay integers next to missing values
        if column in frame.columns:
            frame[column] = frame[column].astype("Int64")
    return frame


def checks_block(samplers: Sequence[str], labels: Sequence[str], memorisation: Mapping[tuple[str, str], dict],
                 diversity: pd.DataFrame, fidelity: pd.DataFrame, references: Mapping[str, Mapping[str, Any]],
                 criteria: Mapping[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """``{sampler: {label: checks}}``: :func:`~medaug.audit.checks.acceptance_checks` plus context.

    Checked: in-mask MS-SSIM against the real held-out volumes', equal-size precision / recall,
    near-copies and the blur-matched share. Context keys (not checked): in-mask MS-SSIM of the
    real training volumes, the held-out reconstructions and the PCA-d reference
    (``ms_ssim_real_train``, ``ms_ssim_reconstructions``, ``ms_ssim_pca_reference``); whole-volume
    MS-SSIM (``ms_ssim_whole_volume``, ``ms_ssim_whole_volume_real_held_out``); ``variance_share``
    (in-mask voxelwise variance of the set / that of the real training volumes) of the samples,
    the held-out real volumes, their reconstructions and the PCA-d reference; the real-vs-real
    baseline ``precision_real_halves`` / ``recall_real_halves`` at the same set size
    ``precision_recall_set_size``; ``reconstruction_nn_threshold`` and ``reconstruction_quantile``
    of the blur-matched test; mean pairwise RMS difference inside the mask (``rms_synthetic``,
    ``rms_real_train``, ``rms_pca_reference``); ``pca_rank``, ``pca_explained_variance`` from
    ``references[label]``; ``n_classifier_runs``. Precision and recall are per label, averaged
    over draws and classifier runs.
    """
    div_index = diversity.set_index(["group", "label"])
    fid_mean = fidelity_means(fidelity)
    runs = fidelity.groupby(["group", "label"])["run"].nunique() if len(fidelity) else pd.Series(dtype=int)
    sizes = fidelity.groupby(["group", "label"])["n"].first() if "n" in fidelity.columns else pd.Series(dtype=int)
    block: dict[str, dict[str, dict[str, Any]]] = {}
    for sampler in samplers:
        block[sampler] = {}
        for label in labels:
            key = (sampler, label)
            memo = memorisation.get(key) or {}
            checks = acceptance_checks(
                ms_ssim=_value(div_index, key, "ms_ssim_mask_mean"),
                ms_ssim_real=_value(div_index, (HELD_OUT, label), "ms_ssim_mask_mean"),
                precision=_value(fid_mean, key, "precision"), recall=_value(fid_mean, key, "recall"),
                near_copies=memo.get("n_near_copies"), share_closer=memo.get("share_closer_than_reconstructions"),
                criteria=criteria)
            reference = references.get(label) or {}
            checks.update({
                "ms_ssim_real_train": _value(div_index, (REAL_TRAIN, label), "ms_ssim_mask_mean"),
                "ms_ssim_reconstructions": _value(div_index, (RECONSTRUCTIONS, label), "ms_ssim_mask_mean"),
                "ms_ssim_pca_reference": _value(div_index, (PCA_REFERENCE, label), "ms_ssim_mask_mean"),
                "ms_ssim_whole_volume": _value(div_index, key, "ms_ssim_mean"),
                "ms_ssim_whole_volume_real_held_out": _value(div_index, (HELD_OUT, label), "ms_ssim_mean"),
                "variance_share": _value(div_index, key, "variance_share"),
                "variance_share_real_held_out": _value(div_index, (HELD_OUT, label), "variance_share"),
                "variance_share_reconstructions": _value(div_index, (RECONSTRUCTIONS, label), "variance_share"),
                "variance_share_pca_reference": _value(div_index, (PCA_REFERENCE, label), "variance_share"),
                "precision_real_halves": _value(fid_mean, (REAL_HALVES, label), "precision"),
                "recall_real_halves": _value(fid_mean, (REAL_HALVES, label), "recall"),
                "precision_recall_set_size": finite_or_none(sizes.get(key)),
                "reconstruction_nn_threshold": memo.get("reconstruction_nn_threshold"),
                "reconstruction_quantile": memo.get("reconstruction_quantile"),
                "rms_synthetic": _value(div_index, key, "rms_mean"),
                "rms_real_train": _value(div_index, (REAL_TRAIN, label), "rms_mean"),
                "rms_pca_reference": _value(div_index, (PCA_REFERENCE, label), "rms_mean"),
                "pca_rank": reference.get("rank"),
                "pca_explained_variance": reference.get("explained_variance"),
                "n_classifier_runs": int(runs.get(key, 0)),
            })
            block[sampler][label] = finite_or_none(checks)
    return block


def checks_frame(block: Mapping[str, Mapping[str, Mapping[str, Any]]], criteria: Mapping[str, Any]) -> pd.DataFrame:
    """The checks block as a table: one row per (sampler, label), criteria repeated as columns."""
    rows = [{"sampler": sampler, "label": label, **checks, **{f"criterion_{k}": v for k, v in criteria.items()}}
            for sampler, by_label in block.items() for label, checks in by_label.items()]
    frame = pd.DataFrame(rows)
    for column in ("near_copies", "pca_rank", "precision_recall_set_size"):
        if column in frame.columns:
            frame[column] = frame[column].astype("Int64")
    return frame


def gan_summary(runs: pd.DataFrame, samplers: Sequence[str]) -> pd.DataFrame:
    """One row per sampler: GAN-train and GAN-test balanced accuracy (mean, sd over runs) and the real baseline.

    ``runs``: columns sampler, measure (``baseline`` for sampler ``real``, ``gan_train``, ``gan_test``),
    run, balanced_accuracy. Means and sds of a measure a sampler lacks are None.
    """
    stats = runs.groupby(["sampler", "measure"])["balanced_accuracy"].agg(["mean", "std"])
    baseline = stats.loc[("real", "baseline")]
    rows = []
    for sampler in samplers:
        entry: dict[str, Any] = {"sampler": sampler}
        for measure in ("gan_train", "gan_test"):
            found = (sampler, measure) in stats.index
            entry[f"{measure}_mean"] = stats.loc[(sampler, measure), "mean"] if found else None
            entry[f"{measure}_std"] = stats.loc[(sampler, measure), "std"] if found else None
        entry["baseline_mean"], entry["baseline_std"] = baseline["mean"], baseline["std"]
        rows.append(entry)
    return pd.DataFrame(rows)


def region_means(regions: pd.DataFrame) -> dict[str, dict[str, float]]:
    """``{"<group>/<label>": {column: mean}}`` of the per-volume region table (demo regions audit)."""
    return {f"{group}/{label}": part.drop(columns=["group", "label", "participant_id"]).mean().to_dict()
            for (group, label), part in regions.groupby(["group", "label"], sort=False)}


def metrics_document(note: str, brain_mask_voxels: int, summary: pd.DataFrame, gan: pd.DataFrame,
                     checks: Mapping[str, Any], criteria: Mapping[str, Any],
                     regions: Mapping[str, Any] | None) -> dict[str, Any]:
    """The DVC metrics of the audit (finite numbers or None): ``by_sampler``, ``gan``, ``checks``, ``criteria``, ``regions``."""
    by_sampler: dict[str, dict[str, Any]] = {}
    for _, row in summary.iterrows():
        by_sampler.setdefault(row["sampler"], {})[row["label"]] = {
            k: row[k] for k in summary.columns if k not in ("sampler", "label")}
    return finite_or_none({
        "note": note,
        "brain_mask_voxels": int(brain_mask_voxels),
        "by_sampler": by_sampler,
        "gan": {row["sampler"]: {k: row[k] for k in gan.columns if k != "sampler"} for _, row in gan.iterrows()},
        "criteria": dict(criteria),
        "checks": dict(checks),
        "regions": regions,
    })
