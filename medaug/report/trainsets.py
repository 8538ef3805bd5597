"""What each classifier training set is made of, and the order the thesis' tables list them in.

A training set is an entry of ``classify.real_trainsets`` or ``classify.synthetic_trainsets``
(see :mod:`medaug.classify.trainsets`): real images of one split of the training cohort and / or
``synthetic`` images per label drawn by one sampler, optionally with classic augmentation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from medaug.classify.trainsets import trainset_entries

REAL, SYNTHETIC, REAL_AND_SYNTHETIC = "real", "synthetic", "real + synthetic"
KIND_ORDER = (REAL, SYNTHETIC, REAL_AND_SYNTHETIC)  # thesis tables 1.6-1.9: real; syn n; syn+real n


@dataclass(frozen=True)
class TrainingSet:
    """One classifier training set.

    ``real``: the split of real images (``train``, ``train-50``) or None; ``n_synthetic``: synthetic
    images per label (0: none); ``sampler``: the sampler that drew them (None without synthetic
    images); ``augmentation``: classic on-the-fly augmentation is on.
    """

    name: str
    real: str | None
    n_synthetic: int
    sampler: str | None
    augmentation: bool = False

    @property
    def kind(self) -> str:
        if self.real and self.n_synthetic:
            return REAL_AND_SYNTHETIC
        return SYNTHETIC if self.n_synthetic else REAL

    @property
    def label(self) -> str:
        """Row label in the thesis' words, e.g. ``real (train) + synthetic 100 (hmc)``."""
        parts = []
        if self.real:
            parts.append(f"real ({self.real})")
        if self.n_synthetic:
            parts.append(f"synthetic {self.n_synthetic} ({self.sampler})")
        if self.augmentation:
            parts.append("classic augmentation")
        return " + ".join(parts)


def sampler_of(spec: Mapping[str, Any], default_dir: str | None, default_sampler: str) -> str:
    """The sampler behind a spec's synthetic images.

    Without ``synthetic_dir`` (or with the default one) it is ``default_sampler`` (``sample.sampler``);
    otherwise the folder's name, as the sample stage writes ``<out_dir>/by_sampler/<sampler>``.
    """
    directory = spec.get("synthetic_dir")
    if not directory or (default_dir and PurePosixPath(directory) == PurePosixPath(default_dir)):
        return default_sampler
    return PurePosixPath(str(directory)).name


def training_sets(classify: Mapping[str, Any], default_sampler: str) -> list[TrainingSet]:
    """Every training set of the ``classify`` section, in the thesis' row order.

    Real-only sets first, then synthetic-only, then real + synthetic; within a kind by real split
    and sampler (in order of first appearance in the parameters), then by number of images.
    """
    sets = []
    for _, name, spec in trainset_entries(classify):
        n = int(spec.get("synthetic") or 0)
        sets.append(TrainingSet(
            name=name, real=str(spec["real"]) if spec.get("real") else None, n_synthetic=n,
            sampler=sampler_of(spec, classify.get("synthetic_dir"), default_sampler) if n else None,
            augmentation=bool(spec.get("augmentation"))))
    real_order = list(dict.fromkeys(s.real for s in sets))
    sampler_order = list(dict.fromkeys(s.sampler for s in sets))
    return sorted(sets, key=lambda s: (KIND_ORDER.index(s.kind), real_order.index(s.real),
                                       sampler_order.index(s.sampler), s.n_synthetic, s.augmentation, s.name))


def baseline_of(trainset: TrainingSet, sets: list[TrainingSet]) -> TrainingSet | None:
    """The real-only set without classic augmentation on the same real split (None if absent or if
    ``trainset`` has no real images or is that baseline itself)."""
    if not trainset.real:
        return None
    for candidate in sets:
        if candidate.kind == REAL and not candidate.augmentation and candidate.real == trainset.real:
            return None if candidate == trainset else candidate
    return None
