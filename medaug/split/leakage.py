"""Guard against data leakage between splits; every stage that reads split tables calls it.

Rules (participants compared by ``participant_id``):

- within a cohort, the disjoint splits (``test``, ``train``, ``validation``) share nobody;
- a declared subset (``train-50``) lies inside its parent split (``train``);
- nobody of an external test cohort is in a training split (every split of the training cohort
  except ``test``: train, validation and the subsets are all used for training or tuning).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations
from pathlib import Path

import pandas as pd

from medaug.bids.layout import read_table

TEST_SPLIT = "test"
DEFAULT_SUBSETS = {"train-50": "train"}


class LeakageError(ValueError):
    """A participant sits where it must not; the message names the participants and splits."""


def _ids(table: pd.DataFrame, name: str) -> set[str]:
    if "participant_id" not in table.columns:
        raise LeakageError(f"split {name!r} has no participant_id column")
    return set(table["participant_id"].astype(str))


def _names(ids: set[str], limit: int = 20) -> str:
    ordered = sorted(ids)
    more = f" and {len(ordered) - limit} more" if len(ordered) > limit else ""
    return ", ".join(ordered[:limit]) + more


def check_no_leakage(
    splits: Mapping[str, pd.DataFrame],
    external_tests: Mapping[str, pd.DataFrame] | None = None,
    subsets: Mapping[str, str] | None = None,
) -> None:
    """Raise :class:`LeakageError` naming every offending participant; return None if clean.

    Args:
        splits: split name -> table (``participant_id`` column) of one training cohort.
        external_tests: external cohort name -> its test table.
        subsets: subset split name -> parent split name (default ``{"train-50": "train"}``);
            subsets absent from ``splits`` are ignored.
    """
    subsets = dict(DEFAULT_SUBSETS if subsets is None else subsets)
    ids = {name: _ids(table, name) for name, table in splits.items()}
    problems: list[str] = []

    disjoint = sorted(name for name in ids if name not in subsets)
    for a, b in combinations(disjoint, 2):
        shared = ids[a] & ids[b]
        if shared:
            problems.append(f"in both {a!r} and {b!r}: {_names(shared)}")

    for subset, parent in sorted(subsets.items()):
        if subset not in ids:
            continue
        if parent not in ids:
            raise LeakageError(f"subset {subset!r} given without its parent split {parent!r}")
        outside = ids[subset] - ids[parent]
        if outside:
            problems.append(f"in {subset!r} but not in its parent {parent!r}: {_names(outside)}")

    training = {name: ids[name] for name in ids if name != TEST_SPLIT}
    for ext_name, ext_table in sorted((external_tests or {}).items()):
        ext_ids = _ids(ext_table, ext_name)
        for name, train_ids in sorted(training.items()):
            shared = ext_ids & train_ids
            if shared:
                problems.append(
                    f"in training split {name!r} and external test set {ext_name!r}: {_names(shared)}"
                )

    if problems:
        raise LeakageError("data leakage between splits:\n  " + "\n  ".join(problems))


def read_split_directory(directory: str | Path) -> dict[str, pd.DataFrame]:
    """Read every ``<split>.tsv`` of a split directory (``data/splits/<cohort>``) by split name."""
    directory = Path(directory)
    files = sorted(directory.glob("*.tsv"))
    if not files:
        raise FileNotFoundError(f"{directory}: no split table (*.tsv)")
    return {f.name[: -len(".tsv")]: read_table(f, ("participant_id",)) for f in files}


def check_split_directories(
    cohort_dir: str | Path,
    external_dirs: Mapping[str, str | Path] | None = None,
    subsets: Mapping[str, str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Read a cohort's split directory, check it and the external test sets, return its splits.

    The external directories must each hold a ``test.tsv``. This is the call later stages make
    before they train or evaluate on any split.
    """
    splits = read_split_directory(cohort_dir)
    external = {}
    for name, directory in (external_dirs or {}).items():
        path = Path(directory) / f"{TEST_SPLIT}.tsv"
        external[name] = read_table(path, ("participant_id",))
    check_no_leakage(splits, external, subsets)
    return splits
