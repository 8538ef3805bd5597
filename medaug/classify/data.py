"""Classifier data: real split volumes and synthetic volumes, loaded once into memory tensors.

Class ids: the negative label of ``classify.labels`` = 0, the positive one = 1
(:class:`medaug.classify.labels.ClassLabels`; the demo: ``CN`` = 0, ``AD`` = 1, as in the thesis,
sec. 1.5.5). Every image of a :class:`VolumeSet` has a row in its ``table`` (participant_id,
session_id, diagnosis, source), so predictions can be traced back to participants; a diagnosis that
is neither class is an error naming the file and row.

The on-disk layouts belong to the stages that write them:

- Real (stage ``preprocess``, :mod:`medaug.preprocess.model_ready`): ``<prefix>.npy`` float32
  (N, D, H, W) + ``<prefix>.tsv`` (participant_id, session_id, row), prefix
  ``<model_ready_dir>/<cohort>/model_ready``; read by :func:`medaug.preprocess.model_ready.load_stack`.
- Synthetic (stage ``sample``, :mod:`medaug.synthetic`): ``<synthetic_dir>/<label>/samples.tsv``
  and ``samples.npy`` or one NIfTI per row; read by :func:`medaug.synthetic.read_synthetic`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from medaug.classify.labels import DEMO_CLASSES, ClassLabels
from medaug.preprocess.model_ready import qc_excluded_sessions, session_rows  # noqa: F401  (qc_excluded_sessions re-exported)
from medaug.synthetic import SAMPLES_TABLE, read_synthetic

logger = logging.getLogger(__name__)

LABELS = DEMO_CLASSES.names
"""The demo's diagnosis of class id 0 and 1 (CN, AD); a study's own come from ``classify.labels``."""

TABLE_COLUMNS = ["participant_id", "session_id", "diagnosis", "source"]


class ClassifierDataError(ValueError):
    """Bad classifier input (missing volume or label, NaN image, empty set); names the file or row."""


@dataclass
class VolumeSet:
    """Images in memory with their labels.

    Attributes:
        images: float32 tensor (N, 1, D, H, W).
        labels: int64 tensor (N,), 0 = ``classes.negative``, 1 = ``classes.positive``.
        table: N rows, columns :data:`TABLE_COLUMNS`, in image order.
        classes: the labels of class id 0 and 1.
    """

    images: torch.Tensor
    labels: torch.Tensor
    table: pd.DataFrame
    classes: ClassLabels = DEMO_CLASSES

    def __post_init__(self) -> None:
        n = len(self.table)
        if self.images.ndim != 5 or self.images.shape[0] != n or self.labels.shape != (n,):
            raise ValueError(f"inconsistent VolumeSet: images {tuple(self.images.shape)}, "
                             f"labels {tuple(self.labels.shape)}, {n} table rows")

    def __len__(self) -> int:
        return len(self.table)

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[2:])

    def counts(self) -> dict[str, int]:
        """Number of images per diagnosis, negative label first."""
        return {label: int((self.labels == i).sum()) for i, label in enumerate(self.classes.names)}


def _checked_labels(diagnosis: pd.Series, where: str, classes: ClassLabels,
                    participants: pd.Series | None = None) -> np.ndarray:
    """Class ids (N,) int64 of ``diagnosis``; a value that is neither class fails naming its row
    (data rows counted from 1, the header not counted) and its participant."""
    ids = diagnosis.astype(object).map({label: i for i, label in enumerate(classes.names)})
    bad = ids.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        who = f" ({participants.iloc[row]})" if participants is not None else ""
        raise ClassifierDataError(
            f"{where}: row {row + 1}{who} has diagnosis {diagnosis.iloc[row]!r}, expected one of {list(classes.names)} "
            f"(classify.labels: {classes.to_params()}; {int(bad.sum())} such row(s)); the classifiers compare "
            "these two labels only"
        )
    return ids.to_numpy(dtype=np.int64, copy=True)


def _checked_volumes(volumes: np.ndarray, table: pd.DataFrame, where: str) -> torch.Tensor:
    """(N, D, H, W) array -> float32 tensor (N, 1, D, H, W); fails naming the first non-finite image."""
    volumes = np.ascontiguousarray(volumes, dtype=np.float32)
    finite = np.isfinite(volumes.reshape(len(volumes), -1)).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise ClassifierDataError(f"{where}: volume of {table['participant_id'].iloc[row]} holds NaN or infinite values "
                                  f"({int((~finite).sum())} such volume(s))")
    return torch.from_numpy(volumes)[:, None]


def split_volumes(stack: np.ndarray, index: pd.DataFrame, split: pd.DataFrame, where: str,
                  source: str = "real", excluded: set[tuple[str, str]] = frozenset(),
                  classes: ClassLabels = DEMO_CLASSES) -> VolumeSet:
    """The volumes of the sessions listed in ``split`` (participant_id, session_id, diagnosis).

    ``stack`` and ``index`` come from :func:`medaug.preprocess.model_ready.load_stack`; ``where``
    names the split file in error messages. Sessions in ``excluded`` (left out by the preprocessing
    QC, see :func:`qc_excluded_sessions`) are dropped with a logged warning. Raises
    :class:`ClassifierDataError` if a diagnosis is missing or not one of ``classes`` or a volume is not finite,
    and :class:`medaug.preprocess.model_ready.ModelReadyError` if another session has no volume.
    """
    if "diagnosis" not in split.columns:
        raise ClassifierDataError(f"{where}: missing column(s) ['diagnosis']")
    _checked_labels(split["diagnosis"], where, classes, split.get("participant_id"))   # rows as in the file
    rows, split = session_rows(index, split, where, excluded)
    labels = _checked_labels(split["diagnosis"], where, classes)
    table = pd.DataFrame({"participant_id": split["participant_id"].astype(str).to_numpy(),
                          "session_id": split["session_id"].astype(str).to_numpy(),
                          "diagnosis": split["diagnosis"].to_numpy(), "source": source})
    volumes = np.stack([stack[r] for r in rows]) if len(rows) else np.zeros((0, *stack.shape[1:]), np.float32)
    return VolumeSet(_checked_volumes(volumes, table, where), torch.from_numpy(labels), table, classes)


def _load_nifti(paths: Sequence[str]) -> np.ndarray:
    import nibabel as nib

    volumes = []
    for path in paths:
        if not Path(path).is_file():
            raise ClassifierDataError(f"{path}: synthetic volume not found")
        volumes.append(np.asarray(nib.load(path).dataobj, dtype=np.float32))
    shapes = {v.shape for v in volumes}
    if len(shapes) > 1:
        raise ClassifierDataError(f"synthetic volumes of different shapes {sorted(shapes)}, e.g. {paths[0]}")
    return np.stack(volumes)


def synthetic_volumes(synthetic_dir: str | Path, n_per_label: int, labels: Sequence[str] | None = None,
                      classes: ClassLabels = DEMO_CLASSES) -> VolumeSet:
    """The first ``n_per_label`` synthetic samples of each label from ``<synthetic_dir>/<label>/``.

    ``labels``: the labels read, in order (default: ``classes.names``, negative first); each must be
    one of ``classes``. Raises :class:`ClassifierDataError` if ``n_per_label`` < 1 (an empty synthetic
    set), a label has fewer samples, or a sample's diagnosis is not its directory's label.
    """
    labels = list(classes.names if labels is None else labels)
    other = [label for label in labels if label not in classes.names]
    if other:
        raise ClassifierDataError(f"{synthetic_dir}: synthetic label(s) {other} are not classes of the classifier "
                                  f"(classify.labels: {classes.to_params()})")
    if int(n_per_label) < 1:
        raise ClassifierDataError(f"{synthetic_dir}: empty synthetic set (n_per_label = {n_per_label})")
    parts = []
    for label in labels:
        directory = Path(synthetic_dir) / label
        stack, table = read_synthetic(directory)
        where = str(directory / SAMPLES_TABLE)
        if len(table) < n_per_label:
            raise ClassifierDataError(f"{where}: {len(table)} synthetic {label} sample(s), {n_per_label} requested")
        table = table.iloc[: int(n_per_label)].reset_index(drop=True)
        wrong = table["diagnosis"].astype(str) != label
        if wrong.any():
            row = int(np.flatnonzero(wrong.to_numpy())[0])
            raise ClassifierDataError(f"{where}: row {row + 1} ({table['participant_id'].iloc[row]}) has diagnosis "
                                      f"{table['diagnosis'].iloc[row]!r} in the {label!r} directory")
        ids = _checked_labels(table["diagnosis"].astype(str), where, classes, table["participant_id"])
        volumes = stack[table["row"].astype(int).to_numpy()] if stack is not None else _load_nifti(list(table["file"]))
        frame = pd.DataFrame({"participant_id": table["participant_id"].astype(str),
                              "session_id": table["session_id"] if "session_id" in table.columns else "n/a",
                              "diagnosis": table["diagnosis"], "source": "synthetic"})
        parts.append(VolumeSet(_checked_volumes(volumes, frame, where), torch.from_numpy(ids), frame, classes))
    return concatenate(parts)


def concatenate(parts: Sequence[VolumeSet]) -> VolumeSet:
    """One set holding the images of ``parts`` in order; all parts must share a spatial shape and classes."""
    parts = [p for p in parts if p is not None]
    if not parts:
        raise ClassifierDataError("no volume set to concatenate")
    classes = {p.classes for p in parts}
    if len(classes) > 1:
        raise ClassifierDataError(f"volume sets of different classes cannot be combined: {sorted(c.names for c in classes)}")
    shapes = {p.spatial_shape for p in parts if len(p)}
    if len(shapes) > 1:
        raise ClassifierDataError(f"volumes of different shapes cannot be combined: {sorted(shapes)}")
    return VolumeSet(torch.cat([p.images for p in parts]), torch.cat([p.labels for p in parts]),
                     pd.concat([p.table for p in parts], ignore_index=True), parts[0].classes)


def require_both_labels(volumes: VolumeSet, name: str) -> None:
    """Raise :class:`ClassifierDataError` unless ``volumes`` holds at least one image of each class."""
    absent = [label for label, n in volumes.counts().items() if n == 0]
    if absent:
        where = volumes.table["source"].astype(str).unique().tolist() if len(volumes) else []
        raise ClassifierDataError(f"{name}: no {' or '.join(absent)} image ({volumes.counts()}; sources {where}); "
                                  f"a classifier needs both labels of classify.labels {volumes.classes.to_params()}")
