"""Stage ``audit``: memorisation, diversity and fidelity of the synthetic volumes (issue 10).

    python -m pipelines.audit [--params params.yaml]

Reads the ``audit`` section of params.yaml; the real model-ready stack ``<stack>`` and the splits
in ``<splits_dir>`` (training split = what the generators saw; ``held_out_splits`` = real patients
they never saw); each synthetic set ``<synthetic>.<sampler>/<label>/samples.tsv + samples.npy``;
the classifiers ``<fidelity.classifier_dir>/<trainset>/run-<k>/``. Writes into ``<results_dir>``::

    neighbours.tsv   one row per synthetic / held-out volume: nearest training volume (L2, SSIM), near_copy
    diversity.tsv    group, label, mean pairwise MS-SSIM, sd, pairs
    fidelity.tsv     group, label, run: Frechet distance, precision, recall (classifier features)
    gan.tsv          sampler: GAN-train / GAN-test balanced accuracy (mean, sd), real-on-real baseline
    gan_runs.tsv     the same per classifier run
    regions.tsv      demo only: dark-voxel fraction in the generator's MTL / ventricle regions
    audit.tsv        one row per (sampler, label): the summary the report shows
    *.png            figures

and ``<metrics>`` (DVC metrics: finite numbers or null). The Frechet distance is computed in the
real-data classifier's feature space: it is not an ImageNet / MedicalNet FID.
"""

from __future__ import annotations

import sys

import argparse
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from medaug.audit import diversity as div
from medaug.audit import fidelity as fid
from medaug.audit import memorisation as mem
from medaug.audit import plots, regions
from medaug.bids.layout import read_table
from medaug.classify import (
    LABELS,
    VolumeSet,
    load_classifier,
    predict,
    prediction_metrics,
    qc_excluded_sessions,
    read_model_ready,
    split_volumes,
    synthetic_volumes,
)
from medaug.io import write_json, write_tsv
from medaug.preprocess.model_ready import stack_paths
from pipelines._params import load_params
from pipelines._timing import run_stage

HELD_OUT = "real held-out"
REAL_TRAIN = "real train"
COUNT_COLUMNS = ("n_synthetic", "n_held_out", "n_near_copies")


def finite_or_none(value: Any) -> Any:
    """Numbers as floats / ints, NaN and inf as None, recursively through dicts and lists (JSON metrics)."""
    if isinstance(value, dict):
        return {str(k): finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def real_sets(params: Mapping[str, Any]) -> dict[str, VolumeSet]:
    """``train`` (the generators' training split) and ``held_out`` (the held-out splits, together)."""
    splits_dir, prefix = Path(params["splits_dir"]), str(params["stack"])
    stack, index = read_model_ready(prefix)
    excluded = qc_excluded_sessions(prefix)

    def load(split: str) -> VolumeSet:
        path = splits_dir / f"{split}.tsv"
        table = read_table(path, ("participant_id", "session_id", "diagnosis"))
        table = table[table["diagnosis"].isin(LABELS)]
        return split_volumes(stack, index, table, str(path), source=split, excluded=excluded)

    held_out = [load(split) for split in params["held_out_splits"]]
    return {"train": load(params["train_split"]),
            "held_out": VolumeSet(torch.cat([s.images for s in held_out]), torch.cat([s.labels for s in held_out]),
                                  pd.concat([s.table for s in held_out], ignore_index=True)),
            "test": load(params["test_split"])}


def of_label(volumes: VolumeSet, label: str) -> tuple[np.ndarray, list[str]]:
    """(volumes (n, D, H, W) float32, participant ids) of one label."""
    keep = (volumes.labels == LABELS.index(label)).numpy()
    return volumes.images[keep, 0].numpy(), volumes.table.loc[keep, "participant_id"].astype(str).tolist()


def synthetic_sets(params: Mapping[str, Any]) -> dict[str, VolumeSet]:
    """Sampler name -> its first ``max_synthetic`` volumes per label."""
    out = {}
    for sampler, directory in (params["synthetic"] or {}).items():
        if not Path(directory).is_dir():
            raise FileNotFoundError(f"{directory}: synthetic set of sampler {sampler!r} not found (audit.synthetic)")
        n = min(int(params["max_synthetic"]), *(len(pd.read_csv(Path(directory) / label / "samples.tsv", sep="\t"))
                                                 for label in params["labels"]))
        out[sampler] = synthetic_volumes(directory, n, params["labels"])
    return out


def audit_memorisation(params, real, synthetic, mask) -> tuple[pd.DataFrame, dict]:
    options = params["memorisation"]
    ssim_options = {"sigma": float(options["ssim_sigma"]), "radius": int(options["ssim_radius"])}
    rows, summaries = [], {}
    for label in params["labels"]:
        train, train_ids = of_label(real["train"], label)
        held, held_ids = of_label(real["held_out"], label)
        held_nn = mem.nearest_neighbours(held, train, mask, int(options["n_candidates"]), ssim_options)
        held_flags = mem.near_copy_flags(held_nn.l2, held_nn.ssim, float(options["ssim_min"]), float(options["l2_max"]))
        rows.append(mem.neighbour_table(held_ids, train_ids, held_nn, held_flags).assign(group=HELD_OUT, label=label))
        for sampler, volumes in synthetic.items():
            images, ids = of_label(volumes, label)
            nn = mem.nearest_neighbours(images, train, mask, int(options["n_candidates"]), ssim_options)
            flags = mem.near_copy_flags(nn.l2, nn.ssim, float(options["ssim_min"]), float(options["l2_max"]))
            rows.append(mem.neighbour_table(ids, train_ids, nn, flags).assign(group=sampler, label=label))
            summaries[(sampler, label)] = mem.memorisation_summary(nn, held_nn, float(options["ssim_min"]),
                                                                   float(options["l2_max"]))
            print(f"memorisation {sampler} {label}: {summaries[(sampler, label)]}")
    table = pd.concat(rows, ignore_index=True)
    return table[["group", "label", *[c for c in table.columns if c not in ("group", "label")]]], summaries


def audit_diversity(params, real, synthetic) -> pd.DataFrame:
    options = params["diversity"]
    sets = {REAL_TRAIN: real["train"], HELD_OUT: real["held_out"], **synthetic}
    rows = []
    for group, volumes in sets.items():
        for label in params["labels"]:
            images, _ = of_label(volumes, label)
            result = div.mean_pairwise_ms_ssim(images, int(options["max_pairs"]), int(params["seed"]),
                                               options["weights"], int(options["kernel_size"]),
                                               float(options["kernel_sigma"]))
            rows.append({"group": group, "label": label, **result})
            print(f"diversity {group} {label}: {result}")
    return pd.DataFrame(rows)


def classifier_runs(options: Mapping[str, Any], trainset: str) -> list[tuple[int, torch.nn.Module]]:
    root = Path(options["classifier_dir"]) / trainset
    return [(int(k), load_classifier(root / f"run-{int(k)}")[0]) for k in options["runs"]]


def audit_fidelity(params, real, synthetic) -> pd.DataFrame:
    options = params["fidelity"]
    batch, k = int(options["batch_size"]), int(options["k"])
    rows = []
    for run, model in classifier_runs(options, options["real_trainset"]):
        for label in params["labels"]:
            reference = fid.penultimate_features(model, torch.from_numpy(of_label(real["held_out"], label)[0])[:, None], batch)
            candidates = {REAL_TRAIN: real["train"], **synthetic}
            for group, volumes in candidates.items():
                features = fid.penultimate_features(model, torch.from_numpy(of_label(volumes, label)[0])[:, None], batch)
                rows.append({"group": group, "label": label, "run": run,
                             "frechet_distance": fid.frechet_distance(features, reference),
                             **fid.precision_recall(reference, features, k),
                             "n": len(features), "n_reference": len(reference)})
    return pd.DataFrame(rows)


def _balanced_accuracy(model, volumes: VolumeSet, batch: int) -> float:
    return float(prediction_metrics(predict(model, volumes, batch, "cpu"))["balanced_accuracy"])


def audit_gan(params, real, synthetic) -> tuple[pd.DataFrame, pd.DataFrame]:
    """GAN-train (trainset of ``gan_train[sampler]`` on the real test split) and GAN-test (real classifiers on each synthetic set)."""
    options = params["fidelity"]
    batch = int(options["batch_size"])
    rows = []
    for run, model in classifier_runs(options, options["real_trainset"]):
        rows.append({"sampler": "real", "measure": "baseline", "run": run,
                     "balanced_accuracy": _balanced_accuracy(model, real["test"], batch)})
        for sampler, volumes in synthetic.items():
            rows.append({"sampler": sampler, "measure": "gan_test", "run": run,
                         "balanced_accuracy": _balanced_accuracy(model, volumes, batch)})
    for sampler, trainset in (options.get("gan_train") or {}).items():
        for run, model in classifier_runs(options, trainset):
            rows.append({"sampler": sampler, "measure": "gan_train", "run": run, "trainset": trainset,
                         "balanced_accuracy": _balanced_accuracy(model, real["test"], batch)})
    runs = pd.DataFrame(rows)
    stats = runs.groupby(["sampler", "measure"])["balanced_accuracy"].agg(["mean", "std"])
    baseline = stats.loc[("real", "baseline")]
    summary = []
    for sampler in synthetic:
        entry = {"sampler": sampler}
        for measure in ("gan_train", "gan_test"):
            found = (sampler, measure) in stats.index
            entry[f"{measure}_mean"] = stats.loc[(sampler, measure), "mean"] if found else None
            entry[f"{measure}_std"] = stats.loc[(sampler, measure), "std"] if found else None
        entry["baseline_mean"], entry["baseline_std"] = baseline["mean"], baseline["std"]
        summary.append(entry)
    return runs, pd.DataFrame(summary)


def audit_regions(params, real, synthetic, affine, shape) -> pd.DataFrame:
    """Dark-voxel fractions in the demo generator's MTL and ventricle regions (demo cohorts only)."""
    from medaug.synth.atlas import MTL_REGIONS, VENTRICLE_SD_MM, load_template_atlas

    options = params["regions"]
    xyz = regions.grid_coordinates(shape, affine)
    mtl = regions.gaussian_region_weight(xyz, [c for c, _ in MTL_REGIONS.values()], [s for _, s in MTL_REGIONS.values()],
                                         mirror_x=True)
    ventricles = regions.gaussian_region_weight(xyz, load_template_atlas(head_shell=False).ventricle_centres_mm,
                                                VENTRICLE_SD_MM)
    masks = {"mtl": mtl >= float(options["min_weight"]), "ventricles": ventricles >= float(options["min_weight"])}
    for name, mask in masks.items():
        print(f"regions: {name} covers {int(mask.sum())} voxels of the model-ready grid")
    sets = {"real": VolumeSet(torch.cat([real["train"].images, real["held_out"].images]),
                              torch.cat([real["train"].labels, real["held_out"].labels]),
                              pd.concat([real["train"].table, real["held_out"].table], ignore_index=True)),
            **synthetic}
    rows = []
    for group, volumes in sets.items():
        for label in params["labels"]:
            images, ids = of_label(volumes, label)
            frame = pd.DataFrame({"group": group, "label": label, "participant_id": ids})
            for name, mask in masks.items():
                frame[f"{name}_dark_fraction"] = regions.dark_fraction(images, mask, float(options["dark_threshold"][name]))
                frame[f"{name}_mean_intensity"] = regions.mean_intensity(images, mask)
            rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def summary_table(params, memorisation, diversity, fidelity) -> pd.DataFrame:
    """One row per (sampler, label), plus the real training split's fidelity as a reference row."""
    div_index = diversity.set_index(["group", "label"])
    fid_mean = fidelity.groupby(["group", "label"])[["frechet_distance", "precision", "recall"]].mean()
    rows = []
    for group in [REAL_TRAIN, *params["synthetic"]]:
        for label in params["labels"]:
            row = {"sampler": group, "label": label, **memorisation.get((group, label), {})}
            row["ms_ssim_mean"] = div_index.loc[(group, label), "ms_ssim_mean"]
            row["real_ms_ssim_mean"] = div_index.loc[(HELD_OUT, label), "ms_ssim_mean"]
            if (group, label) in fid_mean.index:
                row.update(fid_mean.loc[(group, label)].to_dict())
            rows.append(row)
    frame = pd.DataFrame(rows)
    for column in COUNT_COLUMNS:   # counts stay integers next to missing values
        if column in frame.columns:
            frame[column] = frame[column].astype("Int64")
    return frame


def run(params: Mapping[str, Any]) -> dict[str, Any]:
    torch.set_num_threads(int(params.get("threads", 1)))
    results = Path(params["results_dir"])
    dpi = int(params["dpi"])
    real = real_sets(params)
    synthetic = synthetic_sets(params)

    train_all = real["train"].images[:, 0].numpy()
    mask = mem.brain_mask(train_all, float(params["memorisation"]["mask_threshold"]))
    neighbours, memorisation = audit_memorisation(params, real, synthetic, mask)
    diversity = audit_diversity(params, real, synthetic)
    fidelity = audit_fidelity(params, real, synthetic)
    gan_runs, gan = audit_gan(params, real, synthetic)
    summary = summary_table(params, memorisation, diversity, fidelity)

    write_tsv(neighbours, results / "neighbours.tsv")
    write_tsv(diversity, results / "diversity.tsv")
    write_tsv(fidelity, results / "fidelity.tsv")
    write_tsv(gan_runs, results / "gan_runs.tsv")
    write_tsv(gan, results / "gan.tsv")
    write_tsv(summary, results / "audit.tsv")
    plots.memorisation_figure(neighbours, float(params["memorisation"]["l2_max"]),
                              float(params["memorisation"]["ssim_min"]), results / "memorisation.png", dpi)
    plots.diversity_figure(diversity, results / "diversity.png", dpi)
    plots.fidelity_figure(fidelity, results / "fidelity.png", dpi)
    region_means = None
    if params["regions"].get("enabled"):
        meta_path = stack_paths(params["stack"])[2]
        metadata = json.loads(meta_path.read_text())
        if metadata.get("affine") is None:
            raise ValueError(f"{meta_path}: no affine; the regions audit needs the model-ready grid in MNI space")
        region_table = audit_regions(params, real, synthetic, np.asarray(metadata["affine"]), metadata["shape"])
        write_tsv(region_table, results / "regions.tsv")
        plots.regions_figure(region_table, results / "regions.png", dpi)
        region_means = {f"{g}/{label}": part.drop(columns=["group", "label", "participant_id"]).mean().to_dict()
                        for (g, label), part in region_table.groupby(["group", "label"], sort=False)}

    metrics = {
        "note": fid.FEATURE_SPACE_NOTE,
        "brain_mask_voxels": int(mask.sum()),
        "by_sampler": {row["sampler"]: {} for _, row in summary.iterrows()},
        "gan": {row["sampler"]: {k: row[k] for k in gan.columns if k != "sampler"} for _, row in gan.iterrows()},
        "regions": region_means,
    }
    for _, row in summary.iterrows():
        metrics["by_sampler"][row["sampler"]][row["label"]] = {k: row[k] for k in summary.columns if k not in ("sampler", "label")}
    metrics = finite_or_none(metrics)
    write_json(metrics, params["metrics"])
    return metrics


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    params = load_params("audit", args.params)
    run(params)
    print(f"audit written to {params['results_dir']} and {params['metrics']}")


if __name__ == "__main__":
    sys.exit(run_stage(main))
