"""The synthetic-data audit of the ``audit`` stage: memorisation, diversity, fidelity, GAN-train /
GAN-test, acceptance checks and, on the demo cohorts, the generator's regions.

Reads the ``audit`` parameter section; the real model-ready stack ``<stack>`` and the splits in
``<splits_dir>`` (training split = what the generators saw; ``held_out_splits`` = real patients
they never saw); each synthetic set ``<synthetic>.<sampler>/<label>/samples.tsv + samples.npy``;
the classifiers ``<fidelity.classifier_dir>/<trainset>/run-<k>/``. Writes into ``<results_dir>``
(names in :mod:`medaug.audit.files`)::

    neighbours.tsv   one row per synthetic / held-out / reconstructed held-out volume: nearest
                     training volume (L2, SSIM), near_copy
    diversity.tsv    group, label: mean pairwise MS-SSIM (whole volume and in the mask), RMS difference
                     (sd, pairs) and the share of the training volumes' in-mask voxelwise variance;
                     ``real train PCA-d`` holds the rank-d PCA reconstructions of the training volumes,
                     ``real held-out reconstructed`` the model's reconstructions of the held-out volumes
    fidelity.tsv     group, label, run: Frechet distance against all held-out real features, and k-NN
                     precision / recall at equal set sizes, mean and sd over ``fidelity.draws`` draws
                     (classifier features; ``real held-out halves`` is the real-vs-real baseline)
    gan.tsv          sampler: GAN-train / GAN-test balanced accuracy (mean, sd), real-on-real baseline
    gan_runs.tsv     the same per classifier run
    regions.tsv      demo only: dark-voxel fraction in the generator's MTL / ventricle regions
    audit.tsv        one row per (sampler, label): the summary the report shows
    checks.tsv       one row per (sampler, label): the acceptance checks (``criteria``)
    montage_<label>.png  random volumes of every set, and each set's voxelwise sd
    *.png            figures

and ``<metrics>`` (DVC metrics: finite numbers or null), with the block ``checks`` per sampler and
label. Every in-mask figure uses one mask: voxels whose mean training intensity exceeds
``mask.threshold``, eroded by ``mask.erode_voxels``. The blur-matched memorisation test and the
reconstructions group load the trained model of each label from
``<reference.models_dir>/<label>/model``; d of the PCA reference is ``reference.latent_size`` or
the latent size in that model's ``model.json``. The Frechet distance and precision / recall are
computed in the real-data classifier's feature space: not an ImageNet / MedicalNet FID.

The classifier's two classes are ``classify.labels`` (:class:`medaug.classify.labels.ClassLabels`,
passed by the stage script); ``audit.labels`` (the labels audited) must be among them, and real
participants of another diagnosis are left out of the audit's real sets.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from medaug.audit import diversity as div
from medaug.audit import files
from medaug.audit import fidelity as fid
from medaug.audit import memorisation as mem
from medaug.audit import plots, regions
from medaug.audit.reconstruction import label_model, reconstruct
from medaug.audit import summary as tables
from medaug.figures import set_montage
from medaug.audit.reference import label_references
from medaug.audit.summary import HELD_OUT, PCA_REFERENCE, REAL_HALVES, REAL_TRAIN, RECONSTRUCTIONS
from medaug.bids.layout import read_table
from medaug.classify.checkpoint import load_classifier
from medaug.classify.data import VolumeSet, concatenate, qc_excluded_sessions, split_volumes, synthetic_volumes
from medaug.classify.evaluate import predict, prediction_metrics
from medaug.classify.labels import ClassLabels
from medaug.io import write_json, write_tsv
from medaug.runtime import set_threads
from medaug.preprocess.model_ready import load_stack

logger = logging.getLogger(__name__)


def checked_audit_labels(params: Mapping[str, Any], classes: ClassLabels) -> list[str]:
    """``audit.labels``, each a class of the classifier (``classify.labels``); a clear error otherwise."""
    labels = [str(label) for label in params["labels"]]
    other = [label for label in labels if label not in classes.names]
    if other or not labels:
        raise ValueError(f"audit.labels {labels}: {other or 'none'} not among the classifier's classes "
                         f"classify.labels {classes.to_params()}; the audit scores synthetic volumes with that classifier")
    return labels


def real_sets(params: Mapping[str, Any], classes: ClassLabels) -> dict[str, VolumeSet]:
    """``train`` (the generators' training split), ``held_out`` (the held-out splits, together) and
    ``test``: the participants whose diagnosis is one of ``classes``."""
    splits_dir, prefix = Path(params["splits_dir"]), str(params["stack"])
    stack, index, _ = load_stack(prefix)
    excluded = qc_excluded_sessions(prefix)

    def load(split: str) -> VolumeSet:
        path = splits_dir / f"{split}.tsv"
        table = read_table(path, ("participant_id", "session_id", "diagnosis"))
        table = table[table["diagnosis"].astype(str).isin(classes.names)]
        return split_volumes(stack, index, table, str(path), source=split, excluded=excluded, classes=classes)

    held_out = [load(split) for split in params["held_out_splits"]]
    return {"train": load(params["train_split"]), "held_out": concatenate(held_out), "test": load(params["test_split"])}


def of_label(volumes: VolumeSet, label: str) -> tuple[np.ndarray, list[str]]:
    """(volumes (n, D, H, W) float32, participant ids) of one label; a view, not a copy, when the label's
    rows are contiguous (synthetic sets: one block per label)."""
    rows = np.flatnonzero((volumes.labels == volumes.classes.index(label)).numpy())
    contiguous = len(rows) > 0 and rows[-1] - rows[0] + 1 == len(rows)
    pick = slice(int(rows[0]), int(rows[-1]) + 1) if contiguous else rows
    return volumes.images[pick, 0].numpy(), volumes.table.iloc[pick]["participant_id"].astype(str).tolist()


def label_arrays(volumes: VolumeSet, labels: list[str]) -> dict[str, np.ndarray]:
    """Label -> that label's volumes (n, D, H, W) (:func:`of_label`)."""
    return {label: of_label(volumes, label)[0] for label in labels}


def synthetic_sets(params: Mapping[str, Any], classes: ClassLabels) -> dict[str, VolumeSet]:
    """Sampler name -> its first ``max_synthetic`` volumes per label."""
    out = {}
    for sampler, directory in (params["synthetic"] or {}).items():
        if not Path(directory).is_dir():
            raise FileNotFoundError(f"{directory}: synthetic set of sampler {sampler!r} not found (audit.synthetic)")
        n = min(int(params["max_synthetic"]), *(len(pd.read_csv(Path(directory) / label / "samples.tsv", sep="\t"))
                                                 for label in params["labels"]))
        out[sampler] = synthetic_volumes(directory, n, params["labels"], classes=classes)
    return out


def held_out_reconstructions(params, real) -> dict[str, np.ndarray]:
    """Label -> the trained model's reconstructions of that label's held-out volumes (n, D, H, W)."""
    models_dir, batch = params["reference"]["models_dir"], int(params["memorisation"]["batch_size"])
    out = {}
    for label in params["labels"]:
        out[label] = reconstruct(label_model(models_dir, label), of_label(real["held_out"], label)[0], batch)
        logger.info("reconstructed %d held-out %s volumes with %s/%s/model", len(out[label]), label, models_dir, label)
    return out


def audit_memorisation(params, real, synthetic, reconstructions, mask) -> tuple[pd.DataFrame, dict]:
    """Nearest training volumes of the synthetic, held-out and reconstructed held-out volumes; per
    (sampler, label) the near-copy summary and the blur-matched test against the reconstructions."""
    options = params["memorisation"]
    ssim_options = {"sigma": float(options["ssim_sigma"]), "radius": int(options["ssim_radius"])}
    ssim_min, l2_max, quantile = float(options["ssim_min"]), float(options["l2_max"]), float(options["reconstruction_quantile"])
    rows, summaries = [], {}
    for label in params["labels"]:
        train, train_ids = of_label(real["train"], label)
        held, held_ids = of_label(real["held_out"], label)
        held_nn = mem.nearest_neighbours(held, train, mask, int(options["n_candidates"]), ssim_options)
        held_flags = mem.near_copy_flags(held_nn.l2, held_nn.ssim, ssim_min, l2_max)
        rows.append(mem.neighbour_table(held_ids, train_ids, held_nn, held_flags).assign(group=HELD_OUT, label=label))
        recon_nn = mem.nearest_neighbours(reconstructions[label], train, mask, int(options["n_candidates"]), ssim_options)
        recon_flags = mem.near_copy_flags(recon_nn.l2, recon_nn.ssim, ssim_min, l2_max)
        rows.append(mem.neighbour_table(held_ids, train_ids, recon_nn, recon_flags)
                    .assign(group=RECONSTRUCTIONS, label=label))
        for sampler, volumes in synthetic.items():
            images, ids = of_label(volumes, label)
            nn = mem.nearest_neighbours(images, train, mask, int(options["n_candidates"]), ssim_options)
            flags = mem.near_copy_flags(nn.l2, nn.ssim, ssim_min, l2_max)
            rows.append(mem.neighbour_table(ids, train_ids, nn, flags).assign(group=sampler, label=label))
            summaries[(sampler, label)] = {**mem.memorisation_summary(nn, held_nn, ssim_min, l2_max),
                                           **mem.reconstruction_matched_test(nn.l2, recon_nn.l2, quantile),
                                           "reconstruction_quantile": quantile}
            logger.info("memorisation %s %s: %s", sampler, label, summaries[(sampler, label)])
    table = pd.concat(rows, ignore_index=True)
    return table[["group", "label", *[c for c in table.columns if c not in ("group", "label")]]], summaries


def classifier_runs(options: Mapping[str, Any], trainset: str, classes: ClassLabels) -> list[tuple[int, torch.nn.Module]]:
    """(run index, classifier) of every run in ``options['runs']`` of one training set, loaded from its
    checkpoint, whose classes must be ``classes``."""
    root = Path(options["classifier_dir"]) / trainset
    return [(int(k), load_classifier(root / f"run-{int(k)}", classes)[0]) for k in options["runs"]]


def audit_fidelity(params, arrays: dict[str, dict[str, np.ndarray]], classes: ClassLabels) -> pd.DataFrame:
    """Per classifier run and label, every group but the held-out one: the Frechet distance to all
    held-out real features, and precision / recall at equal set sizes over seeded draws
    (:func:`medaug.audit.fidelity.equal_size_precision_recall`), with the real-vs-real baseline as
    group ``real held-out halves``. The draws are the same for every classifier run."""
    options = params["fidelity"]
    batch, k = int(options["batch_size"]), int(options["k"])
    groups = [g for g in arrays if g != HELD_OUT]

    def features(model, images: np.ndarray) -> np.ndarray:
        return fid.penultimate_features(model, torch.from_numpy(np.ascontiguousarray(images, np.float32))[:, None], batch)

    draws = {}
    for index, label in enumerate(params["labels"]):
        draws[label] = fid.equal_size_draws(len(arrays[HELD_OUT][label]), {g: len(arrays[g][label]) for g in groups},
                                            int(options["draws"]), [int(params["seed"]), index])
        if draws[label][0] <= k:
            logger.warning("fidelity %s: %d held-out volumes give halves of %d <= k = %d; precision / recall unknown",
                           label, len(arrays[HELD_OUT][label]), draws[label][0], k)
    rows = []
    for run, model in classifier_runs(options, options["real_trainset"], classes):
        for label in params["labels"]:
            reference = features(model, arrays[HELD_OUT][label])
            candidates = {group: features(model, arrays[group][label]) for group in groups}
            scores = fid.equal_size_precision_recall(reference, candidates, k, draws[label][1], real_group=REAL_HALVES)
            for group, score in scores.items():
                distance = fid.frechet_distance(candidates[group], reference) if group in candidates else None
                rows.append({"group": group, "label": label, "run": run, "frechet_distance": distance,
                             **score, "n_reference": score["n"],
                             "n_set": len(candidates[group]) if group in candidates else len(reference)})
    frame = pd.DataFrame(rows)
    numeric = ["frechet_distance", "precision", "recall", "precision_sd", "recall_sd"]
    return frame.assign(**{c: pd.to_numeric(frame[c], errors="coerce") for c in numeric if c in frame.columns})


def _balanced_accuracy(model, volumes: VolumeSet, batch: int) -> float:
    return float(prediction_metrics(predict(model, volumes, batch, "cpu"), volumes.classes)["balanced_accuracy"])


def audit_gan(params, real, synthetic) -> tuple[pd.DataFrame, pd.DataFrame]:
    """GAN-train (trainset of ``gan_train[sampler]`` on the real test split) and GAN-test (real classifiers on each synthetic set)."""
    options = params["fidelity"]
    batch, classes = int(options["batch_size"]), real["test"].classes
    rows = []
    for run, model in classifier_runs(options, options["real_trainset"], classes):
        rows.append({"sampler": "real", "measure": "baseline", "run": run,
                     "balanced_accuracy": _balanced_accuracy(model, real["test"], batch)})
        for sampler, volumes in synthetic.items():
            rows.append({"sampler": sampler, "measure": "gan_test", "run": run,
                         "balanced_accuracy": _balanced_accuracy(model, volumes, batch)})
    for sampler, trainset in (options.get("gan_train") or {}).items():
        for run, model in classifier_runs(options, trainset, classes):
            rows.append({"sampler": sampler, "measure": "gan_train", "run": run, "trainset": trainset,
                         "balanced_accuracy": _balanced_accuracy(model, real["test"], batch)})
    runs = pd.DataFrame(rows)
    return runs, tables.gan_summary(runs, list(synthetic))


def audit_regions(params, real, synthetic, affine, shape) -> pd.DataFrame:
    """Dark-voxel fractions in the demo generator's MTL and ventricle regions (``audit.regions``, demo cohorts only)."""
    options = params["regions"]
    xyz = regions.grid_coordinates(shape, affine)
    masks = {}
    for name in ("mtl", "ventricles"):
        region = options[name]
        weight = regions.gaussian_region_weight(xyz, region["centres_mm"], region["sd_mm"], mirror_x=True)
        masks[name] = weight >= float(options["min_weight"])
    for name, mask in masks.items():
        logger.info("regions: %s covers %d voxels of the model-ready grid", name, int(mask.sum()))
    sets = {"real": concatenate([real["train"], real["held_out"]]), **synthetic}
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


def write_montages(params, arrays, diversity, affine) -> None:
    """``montage_<label>.png``: random volumes of every set and its voxelwise sd (medaug.audit.montage)."""
    options = params["montage"]
    if int(options["volumes"]) <= 0:
        return
    rms = diversity.set_index(["group", "label"])["rms_mean"]
    groups = [g for g in arrays if g != HELD_OUT]
    for label in params["labels"]:
        titles = {g: f"{g}\nRMS diff {rms.get((g, label), float('nan')):.3f}" for g in groups}
        set_montage({g: arrays[g][label] for g in groups}, Path(params["results_dir"]) / files.MONTAGE.format(label=label),
                    int(options["volumes"]), int(params["seed"]), options["views"], affine, titles,
                    f"{label}: random volumes per set (same draw for real train and its PCA-d reconstructions)",
                    int(params["dpi"]))


def run(params: Mapping[str, Any], classes: ClassLabels) -> dict[str, Any]:
    """The whole audit from the ``audit`` parameter section and the classifier's classes
    (``classify.labels``); writes every table and figure into ``results_dir`` and the metrics into
    ``metrics``, and returns the metrics."""
    set_threads(int(params.get("threads", 1)))
    results = Path(params["results_dir"])
    dpi = int(params["dpi"])
    samplers, labels = list(params["synthetic"] or {}), checked_audit_labels(params, classes)
    real = real_sets(params, classes)
    synthetic = synthetic_sets(params, classes)
    metadata = load_stack(params["stack"])[2]
    affine = np.asarray(metadata["affine"]) if metadata.get("affine") is not None else None

    train_all = real["train"].images[:, 0].numpy()
    mask = mem.brain_mask(train_all, float(params["mask"]["threshold"]), int(params["mask"]["erode_voxels"]))
    logger.info("brain mask: %d voxels of %d", int(mask.sum()), mask.size)
    reconstructions = held_out_reconstructions(params, real)
    neighbours, memorisation = audit_memorisation(params, real, synthetic, reconstructions, mask)
    train = label_arrays(real["train"], labels)
    pca_volumes, pca_info = label_references(train, params["reference"])
    arrays = {REAL_TRAIN: train, HELD_OUT: label_arrays(real["held_out"], labels), PCA_REFERENCE: pca_volumes,
              **{sampler: label_arrays(volumes, labels) for sampler, volumes in synthetic.items()}}
    options = params["diversity"]
    diversity = div.diversity_table({**arrays, RECONSTRUCTIONS: reconstructions}, int(options["max_pairs"]),
                                    int(params["seed"]), options["weights"], int(options["kernel_size"]),
                                    float(options["kernel_sigma"]), mask, variance_reference=REAL_TRAIN)
    diversity = diversity.merge(pd.DataFrame([{"group": PCA_REFERENCE, "label": label, **info}
                                              for label, info in pca_info.items()]), how="left", on=["group", "label"])
    fidelity = audit_fidelity(params, arrays, classes)
    gan_runs, gan = audit_gan(params, real, synthetic)
    summary = tables.summary_table(samplers, labels, memorisation, diversity, fidelity)
    criteria = dict(params["criteria"])
    checks = tables.checks_block(samplers, labels, memorisation, diversity, fidelity, pca_info, criteria)

    write_tsv(neighbours, results / files.NEIGHBOURS_TABLE)
    write_tsv(diversity, results / files.DIVERSITY_TABLE)
    write_tsv(fidelity, results / files.FIDELITY_TABLE)
    write_tsv(gan_runs, results / files.GAN_RUNS_TABLE)
    write_tsv(gan, results / files.GAN_TABLE)
    write_tsv(summary, results / files.SUMMARY_TABLE)
    write_tsv(tables.checks_frame(checks, criteria), results / files.CHECKS_TABLE)
    plots.memorisation_figure(neighbours, float(params["memorisation"]["l2_max"]),
                              float(params["memorisation"]["ssim_min"]), results / files.MEMORISATION_FIGURE, dpi)
    plots.diversity_figure(diversity, results / files.DIVERSITY_FIGURE, dpi)
    plots.fidelity_figure(fidelity, results / files.FIDELITY_FIGURE, dpi, positive=classes.positive)
    write_montages(params, arrays, diversity, affine)
    region_means = None
    if params["regions"].get("enabled"):
        if affine is None:
            raise ValueError(f"{params['stack']}.json: no affine; the regions audit needs the model-ready grid in MNI space")
        region_table = audit_regions(params, real, synthetic, affine, metadata["shape"])
        write_tsv(region_table, results / files.REGIONS_TABLE)
        plots.regions_figure(region_table, results / files.REGIONS_FIGURE, dpi)
        region_means = tables.region_means(region_table)

    metrics = tables.metrics_document(fid.FEATURE_SPACE_NOTE, int(mask.sum()), summary, gan, checks, criteria,
                                      region_means)
    write_json(metrics, params["metrics"])
    return metrics
