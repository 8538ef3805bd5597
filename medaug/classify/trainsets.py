"""The classifier training sets of the ``classify`` parameter section: names, groups and specs.

A training set is an entry of ``classify.real_trainsets`` or ``classify.synthetic_trainsets``::

    real: train                 # split of the training cohort (train, train-50), or absent / null
    synthetic: 100              # synthetic images per label from <synthetic_dir>/<label>/, or absent / 0
    synthetic_dir: ...          # optional, default classify.synthetic_dir (keep it inside that
                                # folder: the dvc stage tracks classify.synthetic_dir only)
    augmentation: {...} | true  # optional: classic augmentation on the fly (medaug.classify.augment),
                                # of the real images only

Sets with synthetic images belong in ``synthetic_trainsets``, the others in ``real_trainsets``, so
that new synthetic data retrains only the former.

Classic augmentation transforms the real images only, also in a set that holds synthetic ones
(``real-augmented-synthetic-200``): it is the baseline for scarce real data, and the synthetic
images are already draws from the generator. Transforming them too would mix two effects in one
set (what the generator adds, and what affine, elastic, bias-field and noise transforms do to
generated volumes), so that set would no longer differ from ``real-augmented`` by its synthetic
images alone; each synthetic image also stays the same in every set that holds it. A set with
augmentation and no real images is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from medaug.classify.data import ClassifierDataError
from medaug.config import check_keys

__all__ = ["AUGMENTED_SOURCE", "TRAINSET_GROUPS", "TRAINSET_KEYS", "trainset_entries", "trainset_names",
           "trainset_spec"]

TRAINSET_GROUPS = ("real_trainsets", "synthetic_trainsets")
TRAINSET_KEYS = frozenset({"real", "synthetic", "synthetic_dir", "augmentation"})
AUGMENTED_SOURCE = "real"   # the ``source`` of the training images classic augmentation applies to
_TRAINSET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")  # a folder and DVC stage name


def trainset_entries(params: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(group, name, spec) of every training set, in parameter order (real sets first)."""
    for group in TRAINSET_GROUPS:
        for name, spec in (params.get(group) or {}).items():
            yield group, str(name), dict(spec or {})


def trainset_names(params: Mapping[str, Any]) -> list[str]:
    """Every training set's name, in parameter order (real sets first)."""
    return [name for _, name, _ in trainset_entries(params)]


def trainset_spec(params: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The entry ``name`` of ``real_trainsets`` / ``synthetic_trainsets``, checked."""
    found = [group for group, entry, _ in trainset_entries(params) if entry == name]
    if len(found) != 1:
        raise KeyError(f"classify: training set {name!r} must be defined once in {TRAINSET_GROUPS}; "
                       f"known: {trainset_names(params)}")
    group = found[0]
    if not _TRAINSET_NAME.fullmatch(name):
        raise ValueError(f"classify.{group}: invalid training set name {name!r} (letters, digits, _ . + -)")
    spec = dict(params[group][name] or {})
    check_keys(spec, TRAINSET_KEYS, f"classify.{group}.{name}")
    uses_synthetic = int(spec.get("synthetic") or 0) > 0
    if group == "synthetic_trainsets" and not uses_synthetic:
        raise ClassifierDataError(f"classify.synthetic_trainsets.{name}: empty synthetic set "
                                  f"(synthetic: {spec.get('synthetic')}); give a number of images per label")
    if uses_synthetic != (group == "synthetic_trainsets"):
        raise ValueError(f"classify.{group}.{name}: sets with synthetic images belong in synthetic_trainsets, "
                         "the others in real_trainsets (so that new synthetic data retrains only the former)")
    if not spec.get("real") and not uses_synthetic:
        raise ClassifierDataError(f"classify.{group}.{name}: neither real images nor synthetic images")
    if spec.get("augmentation") and not spec.get("real"):
        raise ValueError(f"classify.{group}.{name}: classic augmentation applies to real images only, "
                         "and this set has none (give real: <split> or drop augmentation)")
    return spec
