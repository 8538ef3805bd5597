"""Participant-level splits of a labelled cohort (thesis sec. 1.5.4).

1. ``test``: ``n_test_per_label`` participants per label, drawn at random.
2. The rest is split per label into ``train`` and ``validation`` (``validation_size`` of each label).
3. ``train-50``: ``n_subset_per_label`` participants per label drawn from ``train``.

Each draw is repeated until the two sets it compares are balanced within every label (age, sex and
site for steps 1-2, test vs rest then train vs validation; age and sex for step 3, subset vs the
whole train set, as in the thesis where sites are too many to match), or a
:class:`SplitError` gives the best p-values after ``max_attempts`` draws.

Rows are participants (one baseline image each); a participant is never in two of test / train /
validation. The same seed and the same input give the same split.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from medaug.split.balance import BalanceCriteria, PValues, balance_margin, balance_pvalues

LABEL = "diagnosis"


class SplitError(ValueError):
    """A cohort cannot be split as asked (too few participants, or never balanced)."""


@dataclass(frozen=True)
class BalancedDraw:
    """Outcome of :func:`draw_until_balanced`.

    Attributes:
        selected: boolean mask over the input rows, True for the drawn set.
        pvalues: label -> column -> p-value of the accepted draw.
        attempts: number of draws made (1 if the first was balanced).
    """

    selected: np.ndarray
    pvalues: PValues
    attempts: int

    def report(self) -> dict[str, Any]:
        """JSON-ready summary (``nan`` p-values become null)."""
        return {
            "attempts": self.attempts,
            "pvalues": {
                label: {c: (None if math.isnan(p) else round(p, 6)) for c, p in per.items()}
                for label, per in self.pvalues.items()
            },
        }


def draw_per_label(
    frame: pd.DataFrame, n_per_label: dict[str, int], rng: np.random.Generator
) -> np.ndarray:
    """Boolean mask selecting ``n_per_label[label]`` random rows of each label (labels in sorted order)."""
    mask = np.zeros(len(frame), dtype=bool)
    labels = frame[LABEL].to_numpy()
    for label in sorted(n_per_label):
        rows = np.flatnonzero(labels == label)
        mask[rng.choice(rows, size=n_per_label[label], replace=False)] = True
    return mask


def draw_until_balanced(
    frame: pd.DataFrame,
    draw: Callable[[np.random.Generator], np.ndarray],
    compare: Callable[[np.ndarray], tuple[pd.DataFrame, pd.DataFrame]],
    criteria: BalanceCriteria,
    rng: np.random.Generator,
    max_attempts: int,
    what: str,
) -> BalancedDraw:
    """Draw sets until ``compare(mask)`` gives two balanced sets; keep the best draw for the error.

    Args:
        frame: the rows drawn from.
        draw: rng -> boolean mask over ``frame``.
        compare: mask -> the two sets whose balance is tested.
        what: name of the step, for the error message.

    Raises:
        SplitError: no balanced draw in ``max_attempts``; the message gives the best p-values.
    """
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
    best: BalancedDraw | None = None
    best_margin = -math.inf
    for attempt in range(1, max_attempts + 1):
        mask = draw(rng)
        pvalues = balance_pvalues(*compare(mask), criteria, label_column=LABEL)
        margin = balance_margin(pvalues, criteria)
        if margin >= 0.0:
            return BalancedDraw(mask, pvalues, attempt)
        if margin > best_margin:
            best, best_margin = BalancedDraw(mask, pvalues, attempt), margin
    assert best is not None
    raise SplitError(
        f"{what}: no draw balanced after {max_attempts} attempts "
        f"(p_min {dict(criteria.p_min)}); best p-values found: {best.report()['pvalues']}. "
        "Lower the p_min thresholds or raise max_attempts."
    )


def _check_participants(frame: pd.DataFrame, what: str) -> None:
    missing = {"participant_id", LABEL} - set(frame.columns)
    if missing:
        raise SplitError(f"{what}: missing column(s) {sorted(missing)}")
    duplicated = frame["participant_id"][frame["participant_id"].duplicated()]
    if len(duplicated):
        raise SplitError(f"{what}: participant(s) with more than one row {sorted(set(duplicated))}")


def _label_counts(frame: pd.DataFrame, labels: Sequence[str]) -> dict[str, int]:
    return {label: int((frame[LABEL] == label).sum()) for label in labels}


def split_test(
    labelled: pd.DataFrame,
    labels: Sequence[str],
    n_test_per_label: int,
    criteria: BalanceCriteria,
    rng: np.random.Generator,
    max_attempts: int,
) -> tuple[pd.DataFrame, pd.DataFrame, BalancedDraw]:
    """Draw the test set (``n_test_per_label`` per label), balanced against the rest.

    Returns ``(test, rest, draw)``. Every label needs ``n_test_per_label + 2`` participants (at least
    one for train and one for validation), else :class:`SplitError`.
    """
    _check_participants(labelled, "labelled cohort")
    counts = _label_counts(labelled, labels)
    short = {lab: n for lab, n in counts.items() if n < n_test_per_label + 2}
    if short:
        raise SplitError(
            f"too few participants for a test set of {n_test_per_label} per label plus at least "
            f"2 for train and validation: {short}"
        )
    result = draw_until_balanced(
        labelled,
        lambda g: draw_per_label(labelled, {lab: n_test_per_label for lab in labels}, g),
        lambda m: (labelled[m], labelled[~m]),
        criteria, rng, max_attempts, "test vs rest",
    )
    m = result.selected
    return labelled[m].reset_index(drop=True), labelled[~m].reset_index(drop=True), result


def validation_counts(counts: dict[str, int], validation_size: float) -> dict[str, int]:
    """Validation participants per label: ``validation_size`` of each label, rounded half up.

    Raises SplitError if train or validation would be empty for a label.
    """
    if not 0.0 < validation_size < 1.0:
        raise ValueError(f"validation_size must lie in (0, 1), got {validation_size}")
    n_val = {lab: math.floor(validation_size * n + 0.5) for lab, n in counts.items()}
    empty = {lab: n for lab, n in counts.items() if n_val[lab] < 1 or n_val[lab] >= n}
    if empty:
        raise SplitError(
            f"a validation fraction of {validation_size} leaves train or validation empty for "
            f"label(s) with these numbers of participants: {empty}"
        )
    return n_val


def split_train_validation(
    rest: pd.DataFrame,
    labels: Sequence[str],
    validation_size: float,
    criteria: BalanceCriteria,
    rng: np.random.Generator,
    max_attempts: int,
) -> tuple[pd.DataFrame, pd.DataFrame, BalancedDraw]:
    """Split, stratified by label, into ``(train, validation, draw)`` balanced against each other."""
    _check_participants(rest, "train + validation pool")
    n_val = validation_counts(_label_counts(rest, labels), validation_size)
    result = draw_until_balanced(
        rest,
        lambda g: draw_per_label(rest, n_val, g),
        lambda m: (rest[~m], rest[m]),
        criteria, rng, max_attempts, "train vs validation",
    )
    m = result.selected
    return rest[~m].reset_index(drop=True), rest[m].reset_index(drop=True), result


def draw_train_subset(
    train: pd.DataFrame,
    labels: Sequence[str],
    n_per_label: int,
    criteria: BalanceCriteria,
    rng: np.random.Generator,
    max_attempts: int,
) -> tuple[pd.DataFrame, BalancedDraw]:
    """Draw ``n_per_label`` per label from ``train``, matched to the whole of ``train`` (train-50)."""
    _check_participants(train, "train set")
    short = {lab: n for lab, n in _label_counts(train, labels).items() if n < n_per_label}
    if short:
        raise SplitError(f"train set too small for a subset of {n_per_label} per label: {short}")
    result = draw_until_balanced(
        train,
        lambda g: draw_per_label(train, {lab: n_per_label for lab in labels}, g),
        lambda m: (train[m], train),
        criteria, rng, max_attempts, "train subset vs train",
    )
    return train[result.selected].reset_index(drop=True), result


@dataclass(frozen=True)
class CohortSplitter:
    """Parameters of the whole split of a training cohort (the ``split`` stage).

    Attributes:
        n_test_per_label: test participants per label (100 for ADNI in the thesis).
        validation_size: fraction of each label's remaining participants put in validation.
        balance: criteria for test vs rest and train vs validation (age, sex, site).
        max_attempts: draws allowed per step before giving up.
        n_subset_per_label: participants per label of the small train subset (50 in the thesis).
        subset_balance: criteria for subset vs train (age, sex).
        subset_name: name of the small train subset (``train-50``).
        seed: seed of the numpy Generator that drives every draw.
    """

    n_test_per_label: int
    validation_size: float
    balance: BalanceCriteria
    max_attempts: int
    n_subset_per_label: int
    subset_balance: BalanceCriteria
    subset_name: str = "train-50"
    seed: int = 0

    def split(
        self, labelled: pd.DataFrame, labels: Sequence[str]
    ) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
        """Split a labelled cohort (one row per participant, with ``diagnosis``).

        Returns:
            ``({"test", "train", "validation", subset_name: table}, report)``; each table keeps the
            input columns and is sorted by ``participant_id``; the report holds counts per split
            and label, and the attempts and p-values of each step.
        """
        rng = np.random.default_rng(self.seed)
        labelled = labelled.sort_values("participant_id").reset_index(drop=True)
        test, rest, test_draw = split_test(
            labelled, labels, self.n_test_per_label, self.balance, rng, self.max_attempts
        )
        train, validation, val_draw = split_train_validation(
            rest, labels, self.validation_size, self.balance, rng, self.max_attempts
        )
        subset, subset_draw = draw_train_subset(
            train, labels, self.n_subset_per_label, self.subset_balance, rng, self.max_attempts
        )
        splits = {"test": test, "train": train, "validation": validation, self.subset_name: subset}
        splits = {n: t.sort_values("participant_id").reset_index(drop=True) for n, t in splits.items()}
        report = {
            "counts": {name: _label_counts(t, labels) for name, t in splits.items()},
            "balance": {
                "test_vs_rest": test_draw.report(),
                "train_vs_validation": val_draw.report(),
                f"{self.subset_name}_vs_train": subset_draw.report(),
            },
        }
        return splits, report
