"""The data of the ``classify`` stages, read from their parameters: the leakage-checked split tables,
the real and synthetic volumes of a training set, the validation set and the test cohorts.

Test cohorts are the ``test`` split of the training cohort and the ``test`` table of each
external cohort, read after the leakage guard. The two classes are ``classify.labels``
(:class:`medaug.classify.labels.ClassLabels`): a diagnosis that is neither is an error naming the
file and row, and a training or validation set without an image of one class is an error naming its
files (a test cohort without one is logged: its sensitivity or specificity is undefined).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from medaug.bids.layout import read_table
from medaug.classify.data import (
    ClassifierDataError,
    VolumeSet,
    concatenate,
    qc_excluded_sessions,
    split_volumes,
    synthetic_volumes,
)
from medaug.classify.labels import ClassLabels
from medaug.classify.networks import Conv5FC3Config, classifier_config
from medaug.classify.trainsets import AUGMENTED_SOURCE, trainset_spec
from medaug.preprocess.model_ready import load_stack
from medaug.split import check_no_leakage, check_split_directories

__all__ = ["TrainingData", "build_training_set", "checked_splits", "load_test_cohorts", "run_list", "split_set",
           "training_data"]

logger = logging.getLogger(__name__)


def checked_splits(params: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """The training cohort's split tables, after the leakage guard over them and the external cohorts."""
    splits_dir = Path(params["splits_dir"])
    externals = {name: splits_dir / name for name in params.get("external_cohorts") or []}
    return check_split_directories(splits_dir / params["training_cohort"], externals)


def _cohort_volumes(params: Mapping[str, Any], cohort: str, table: pd.DataFrame, path: Path) -> VolumeSet:
    """The model-ready volumes of ``cohort`` listed in ``table`` (read from ``path``)."""
    prefix = str(params["model_ready"]).format(cohort=cohort)
    stack, index, _ = load_stack(prefix)
    return split_volumes(stack, index, table, str(path), excluded=qc_excluded_sessions(prefix),
                         classes=ClassLabels.from_params(params))


def _require_both_classes(volumes: VolumeSet, where: str) -> None:
    """A :class:`ClassifierDataError` naming ``where`` (the files read) if one class has no image."""
    empty = [label for label, n in volumes.counts().items() if n == 0]
    if empty:
        raise ClassifierDataError(f"{where}: no image of {' or '.join(repr(e) for e in empty)} ({volumes.counts()}); "
                                  f"a classifier needs images of both classify.labels {volumes.classes.to_params()}")


def split_set(params: Mapping[str, Any], splits: Mapping[str, pd.DataFrame], split: str) -> VolumeSet:
    """The real volumes of one split of the training cohort."""
    cohort = params["training_cohort"]
    if split not in splits:
        raise ClassifierDataError(f"{Path(params['splits_dir']) / cohort}: no split {split!r} (found {sorted(splits)})")
    return _cohort_volumes(params, cohort, splits[split], Path(params["splits_dir"]) / cohort / f"{split}.tsv")


def build_training_set(params: Mapping[str, Any], spec: Mapping[str, Any],
                       splits: Mapping[str, pd.DataFrame]) -> VolumeSet:
    """Real split images and / or the first ``synthetic`` images per label, in that order; both
    classes of ``classify.labels`` must be present."""
    parts, sources = [], []
    if spec.get("real"):
        parts.append(split_set(params, splits, str(spec["real"])))
        sources.append(str(Path(params["splits_dir"]) / params["training_cohort"] / f"{spec['real']}.tsv"))
    n_synthetic = int(spec.get("synthetic") or 0)
    if n_synthetic:
        directory = spec.get("synthetic_dir") or params["synthetic_dir"]
        synthetic = synthetic_volumes(directory, n_synthetic, classes=ClassLabels.from_params(params))
        check_no_leakage({**splits, "synthetic": synthetic.table})  # no synthetic id equals a real one
        parts.append(synthetic)
        sources.append(str(directory))
    training = concatenate(parts)
    _require_both_classes(training, " + ".join(sources) or "training set")
    return training


@dataclass
class TrainingData:
    """What every run of one training set shares: its images, the validation set, the network."""

    trainset: str
    spec: dict[str, Any]
    train: VolumeSet
    validation: VolumeSet
    network: Conv5FC3Config
    augmented: torch.Tensor   # bool (N,): the training images classic augmentation applies to (the real ones)


def run_list(params: Mapping[str, Any]) -> list[int]:
    """``classify.runs`` as distinct integers >= 0, in order; a clear error otherwise."""
    runs = params.get("runs")
    if not isinstance(runs, Sequence) or isinstance(runs, str) or not runs:
        raise ValueError(f"classify.runs must be a non-empty list of run indices, got {runs!r}")
    values = [int(r) for r in runs]
    if any(r < 0 for r in values) or len(set(values)) != len(values):
        raise ValueError(f"classify.runs must hold distinct indices >= 0, got {runs!r}")
    return values


def training_data(params: Mapping[str, Any], trainset: str) -> TrainingData:
    """The training set ``trainset`` and the real validation set, read once for all its runs."""
    spec = trainset_spec(params, trainset)
    splits = checked_splits(params)
    train = build_training_set(params, spec, splits)
    validation_split = str(params.get("validation_split", "validation"))
    validation = split_set(params, splits, validation_split)
    _require_both_classes(validation, str(Path(params["splits_dir"]) / params["training_cohort"] / f"{validation_split}.tsv"))
    network_params = dict(params["network"])
    network = classifier_config(network_params.pop("name"), train.spatial_shape, **network_params)
    augmented = torch.tensor((train.table["source"] == AUGMENTED_SOURCE).to_numpy(dtype=bool))
    return TrainingData(trainset, spec, train, validation, network, augmented)


def load_test_cohorts(params: Mapping[str, Any]) -> dict[str, VolumeSet]:
    """Cohort name -> test volumes: the training cohort's test split, then each external cohort."""
    splits = checked_splits(params)
    splits_dir = Path(params["splits_dir"])
    training = params["training_cohort"]
    tables = {training: (splits.get("test"), splits_dir / training / "test.tsv")}
    for name in params.get("external_cohorts") or []:
        path = splits_dir / name / "test.tsv"
        tables[name] = (read_table(path, ("participant_id", "session_id", "diagnosis")), path)
    cohorts = {}
    for name, (table, path) in tables.items():
        if table is None:
            raise FileNotFoundError(f"{path}: test split not found")
        cohorts[name] = _cohort_volumes(params, name, table, path)
        empty = [label for label, n in cohorts[name].counts().items() if n == 0]
        if empty:
            logger.warning("%s: test cohort %s has no %s image (%s): its sensitivity or specificity is undefined",
                           path, name, " or ".join(empty), cohorts[name].counts())
    return cohorts
