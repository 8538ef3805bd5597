"""Stage ``train_classifier@<trainset>-<run>``: train one AD-vs-CN CNN on one training set with one seed.

    python -m pipelines.train_classifier --trainset real --run 0 [--params params.yaml]

Reads the ``classify`` section of params.yaml. The training set ``<trainset>`` is an entry of
``classify.real_trainsets`` or ``classify.synthetic_trainsets``::

    real: train                 # split of the training cohort (train, train-50), or absent / null
    synthetic: 100              # synthetic images per label from <synthetic_dir>/<label>/, or absent / 0
    synthetic_dir: ...          # optional, default classify.synthetic_dir (keep it inside that
                                # folder: the dvc stage tracks classify.synthetic_dir only)
    augmentation: {...} | true  # optional: classic augmentation on the fly (medaug.classify.augment)

Training lasts ``classify.training.budget`` (medaug.classify.budget): ``unit: epochs`` (thesis
sec. 1.5.5) or ``unit: steps``, the same number of Adam steps for every training set whatever its
size. Validation is always the real ``validation`` split. Run ``k`` uses the seed
``classify.seed + k``. Writes the folder ``<out_dir>/<trainset>/run-<k>/`` atomically:
``model.safetensors``, ``model.json``, ``history.tsv`` (one row per validation),
``training_set.tsv`` (the images used) and ``summary.json`` (kept step and epoch, validation
scores, optimisation steps and images seen, counts).
"""

from __future__ import annotations

import sys

import argparse
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from medaug.classify import (
    ClassifierDataError,
    ClassifierTrainingConfig,
    VolumeSet,
    augmentation_from_params,
    classifier_config,
    concatenate,
    read_model_ready,
    save_classifier,
    qc_excluded_sessions,
    split_volumes,
    synthetic_volumes,
    train_classifier,
)
from medaug.cohort import check_no_leakage, check_split_directories
from medaug.io import atomic_directory, write_json, write_tsv
from pipelines._params import load_params
from pipelines._timing import run_stage

TRAINSET_GROUPS = ("real_trainsets", "synthetic_trainsets")
TRAINSET_KEYS = {"real", "synthetic", "synthetic_dir", "augmentation"}
_TRAINSET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")  # a folder and DVC stage name


def trainset_spec(params: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The entry ``name`` of ``real_trainsets`` / ``synthetic_trainsets``, checked."""
    found = [group for group in TRAINSET_GROUPS if name in (params.get(group) or {})]
    if len(found) != 1:
        known = [n for g in TRAINSET_GROUPS for n in (params.get(g) or {})]
        raise KeyError(f"classify: training set {name!r} must be defined once in {TRAINSET_GROUPS}; known: {known}")
    if not _TRAINSET_NAME.fullmatch(name):
        raise ValueError(f"classify.{found[0]}: invalid training set name {name!r} (letters, digits, _ . + -)")
    spec = dict(params[found[0]][name] or {})
    unknown = set(spec) - TRAINSET_KEYS
    if unknown:
        raise ValueError(f"classify.{found[0]}.{name}: unknown key(s) {sorted(unknown)}; known {sorted(TRAINSET_KEYS)}")
    uses_synthetic = int(spec.get("synthetic") or 0) > 0
    if found[0] == "synthetic_trainsets" and not uses_synthetic:
        raise ClassifierDataError(f"classify.synthetic_trainsets.{name}: empty synthetic set "
                                  f"(synthetic: {spec.get('synthetic')}); give a number of images per label")
    if uses_synthetic != (found[0] == "synthetic_trainsets"):
        raise ValueError(f"classify.{found[0]}.{name}: sets with synthetic images belong in synthetic_trainsets, "
                         "the others in real_trainsets (so that new synthetic data retrains only the former)")
    if not spec.get("real") and not uses_synthetic:
        raise ClassifierDataError(f"classify.{found[0]}.{name}: neither real images nor synthetic images")
    return spec


def checked_splits(params: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """The training cohort's split tables, after the leakage guard over them and the external cohorts."""
    splits_dir = Path(params["splits_dir"])
    externals = {name: splits_dir / name for name in params.get("external_cohorts") or []}
    return check_split_directories(splits_dir / params["training_cohort"], externals)


def split_set(params: Mapping[str, Any], splits: Mapping[str, pd.DataFrame], split: str) -> VolumeSet:
    """The real volumes of one split of the training cohort."""
    cohort = params["training_cohort"]
    if split not in splits:
        raise ClassifierDataError(f"{Path(params['splits_dir']) / cohort}: no split {split!r} (found {sorted(splits)})")
    prefix = str(params["model_ready"]).format(cohort=cohort)
    stack, index = read_model_ready(prefix)
    return split_volumes(stack, index, splits[split], str(Path(params["splits_dir"]) / cohort / f"{split}.tsv"),
                         excluded=qc_excluded_sessions(prefix))


def build_training_set(params: Mapping[str, Any], spec: Mapping[str, Any],
                       splits: Mapping[str, pd.DataFrame]) -> VolumeSet:
    """Real split images and / or the first ``synthetic`` images per label, in that order."""
    parts = []
    if spec.get("real"):
        parts.append(split_set(params, splits, str(spec["real"])))
    n_synthetic = int(spec.get("synthetic") or 0)
    if n_synthetic:
        synthetic = synthetic_volumes(spec.get("synthetic_dir") or params["synthetic_dir"], n_synthetic)
        check_no_leakage({**splits, "synthetic": synthetic.table})  # no synthetic id equals a real one
        parts.append(synthetic)
    return concatenate(parts)


def run(params: Mapping[str, Any], trainset: str, run_index: int) -> dict[str, Any]:
    """Train one classifier; return the summary written next to it."""
    spec = trainset_spec(params, trainset)
    if run_index not in [int(r) for r in params["runs"]]:
        raise ValueError(f"run {run_index} is not in classify.runs {params['runs']}")
    torch.set_num_threads(int(params.get("num_threads", 1)))
    seed = int(params["seed"]) + run_index

    splits = checked_splits(params)
    train = build_training_set(params, spec, splits)
    validation = split_set(params, splits, str(params.get("validation_split", "validation")))
    network_params = dict(params["network"])
    network = classifier_config(network_params.pop("name"), train.spatial_shape, **network_params)
    config = ClassifierTrainingConfig.from_dict(params["training"], seed=seed)
    augmentation = augmentation_from_params(spec.get("augmentation"), train.spatial_shape, seed)

    print(f"{trainset} run {run_index}: {train.counts()} training images ({len(validation)} validation), "
          f"seed {seed}, network {params['network']['name']}, {config.budget.describe()}")
    result = train_classifier(network, train, validation, config, augmentation)
    best = result.best
    summary = {
        "trainset": trainset, "run": run_index, "seed": seed,
        "budget": config.budget.to_dict(),
        "optimisation_steps": int(result.steps),
        "images_seen": int(result.images_seen),
        "epochs_completed": round(result.images_seen / len(train), 6),
        "n_validations": int(len(result.history)),
        "best_step": int(result.best_step),
        "best_epoch": round(result.best_epoch, 6),
        "validation_balanced_accuracy": float(best["validation_balanced_accuracy"]),
        "validation_loss": float(best["validation_loss"]),
        "n_train": train.counts(), "n_train_by_source": train.table["source"].value_counts().sort_index().to_dict(),
        "n_validation": validation.counts(),
    }
    out = Path(params["out_dir"]) / trainset / f"run-{run_index}"
    with atomic_directory(out) as tmp:
        save_classifier(tmp, result.model, {"trainset": trainset, "run": run_index, "seed": seed,
                                            "trainset_spec": spec, "training": params["training"]})
        write_tsv(result.history, tmp / "history.tsv")
        write_tsv(train.table, tmp / "training_set.tsv")
        write_json(summary, tmp / "summary.json")
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainset", required=True, help="a key of classify.real_trainsets or synthetic_trainsets")
    parser.add_argument("--run", type=int, required=True, help="run index (seed = classify.seed + run)")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    summary = run(load_params("classify", args.params), args.trainset, args.run)
    print(f"kept step {summary['best_step']} of {summary['optimisation_steps']} (epoch {summary['best_epoch']:g}): "
          f"validation balanced accuracy {summary['validation_balanced_accuracy']:.3f}")


if __name__ == "__main__":
    sys.exit(run_stage(main))
