"""Which validation's weights a classifier keeps, and when its training stops.

The thesis (sec. 1.5.5) keeps the epoch of best validation balanced accuracy (BA) after 100
epochs. With a few dozen validation images one BA step is several points (36 images: 2.8-5.6
points), so the argmax of BA over dozens of validations is both noisy and optimistic. The
criterion is therefore a parameter (``classify.training.selection``):

- ``validation_loss`` (default): the lowest cross-entropy on the real validation set, a
  continuous score that every validation image moves;
- ``auc``: the highest validation ROC AUC (ranks, no threshold);
- ``smoothed_ba``: the highest mean BA over the trailing ``smoothing_window`` validations (this one
  and the ones before it); before the window fills, a validation ranks below every full window;
- ``balanced_accuracy``: the thesis' protocol, the highest validation BA.

Ties are deterministic: a higher score wins, then a lower validation loss, then the earlier step.
Scores depend only on the validations so far, so the choice made online during training equals
the argmax over the finished history (:func:`kept_index`).

Early stopping (``classify.training.patience``, in validations): training stops once ``patience``
validations have followed the kept one without a better score, but not before step
``min_steps``, or at the step cap (``budget.steps``, or the epochs of an epoch budget), whichever
comes first. ``min_steps`` guards against the plateau at chance that a network may sit on before it
learns (measured on a synthetic fixture: with a patience of 10-20 validations and no floor, runs
stopped there, at chance, where the full run later reached its best). ``patience: null`` trains to
the cap, as the thesis does. A run whose kept step lies in the last fifth of the cap
(:func:`kept_in_last_fifth`) had not clearly converged: the evaluate stage counts them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

VALIDATION_LOSS, AUC, SMOOTHED_BA, BALANCED_ACCURACY = "validation_loss", "auc", "smoothed_ba", "balanced_accuracy"
CRITERIA = (VALIDATION_LOSS, AUC, SMOOTHED_BA, BALANCED_ACCURACY)
PATIENCE, CAP = "patience", "cap"   # stop reasons

__all__ = ["AUC", "BALANCED_ACCURACY", "CAP", "CRITERIA", "PATIENCE", "SMOOTHED_BA", "VALIDATION_LOSS",
           "Selection", "criterion_scores", "kept_in_last_fifth", "kept_index", "patience_exhausted", "replay", "selection_keys"]


@dataclass(frozen=True)
class Selection:
    """The selection criterion, the smoothing window of ``smoothed_ba`` and the early-stopping patience.

    Attributes:
        criterion: one of :data:`CRITERIA`.
        smoothing_window: validations averaged by ``smoothed_ba`` (ignored by the others).
        patience: validations without a better score before training stops; None: train to the cap.
        min_steps: the earliest step at which early stopping may stop training.
    """

    criterion: str = VALIDATION_LOSS
    smoothing_window: int = 5
    patience: int | None = None
    min_steps: int = 0

    def __post_init__(self) -> None:
        if self.criterion not in CRITERIA:
            raise ValueError(f"classify.training.selection must be one of {CRITERIA}, got {self.criterion!r}")
        if not (isinstance(self.smoothing_window, int) and self.smoothing_window >= 1):
            raise ValueError(f"classify.training.smoothing_window must be an integer >= 1, got {self.smoothing_window!r}")
        if self.patience is not None and not (isinstance(self.patience, int) and self.patience >= 1):
            raise ValueError(f"classify.training.patience must be an integer >= 1 or null, got {self.patience!r}")
        if not (isinstance(self.min_steps, int) and self.min_steps >= 0):
            raise ValueError(f"classify.training.min_steps must be an integer >= 0, got {self.min_steps!r}")

    def describe(self) -> str:
        """One line for logs and reports, e.g. ``lowest validation loss, early stopping after 10 validations``."""
        words = {VALIDATION_LOSS: "lowest validation loss", AUC: "highest validation ROC AUC",
                 SMOOTHED_BA: f"highest validation BA averaged over {self.smoothing_window} validations",
                 BALANCED_ACCURACY: "highest validation BA"}[self.criterion]
        floor = f" (not before step {self.min_steps})" if self.min_steps else ""
        stop = (f"early stopping after {self.patience} validations without improvement{floor}" if self.patience
                else "no early stopping")
        return f"{words}, {stop}"


def criterion_scores(rows: Sequence[Mapping[str, float]], selection: Selection) -> list[float]:
    """One score per validation row (higher is better; ``-inf`` where not yet eligible).

    ``rows`` hold ``validation_loss``, ``validation_balanced_accuracy`` and ``validation_roc_auc``.
    """
    criterion = selection.criterion
    if criterion == VALIDATION_LOSS:
        return [-float(row["validation_loss"]) for row in rows]
    if criterion == AUC:
        return [_finite(row["validation_roc_auc"]) for row in rows]
    if criterion == BALANCED_ACCURACY:
        return [_finite(row["validation_balanced_accuracy"]) for row in rows]
    window = selection.smoothing_window
    ba = [_finite(row["validation_balanced_accuracy"]) for row in rows]
    return [math.fsum(ba[i + 1 - window: i + 1]) / window if i + 1 >= window else -math.inf
            for i in range(len(ba))]


def _finite(value: float) -> float:
    value = float(value)
    return value if math.isfinite(value) else -math.inf


def selection_keys(rows: Sequence[Mapping[str, float]], selection: Selection) -> list[tuple[float, float, float]]:
    """Sort keys, larger is better: (score, -validation loss, -step)."""
    scores = criterion_scores(rows, selection)
    return [(score, -float(row["validation_loss"]), -float(row["step"])) for score, row in zip(scores, rows)]


def kept_index(rows: Sequence[Mapping[str, float]], selection: Selection) -> int:
    """Position of the validation whose weights are kept (ties: lower loss, then earlier step)."""
    if not rows:
        raise ValueError("no validation to select from")
    keys = selection_keys(rows, selection)
    return max(range(len(keys)), key=keys.__getitem__)


def patience_exhausted(n_validations: int, kept: int, step: int, selection: Selection) -> bool:
    """Whether training stops after the validation at ``step``: ``patience`` validations have followed
    the kept one (position ``kept`` of ``n_validations``) and ``step`` is at least ``min_steps``."""
    return (selection.patience is not None and n_validations - 1 - kept >= selection.patience
            and step >= selection.min_steps)


def replay(rows: Sequence[Mapping[str, float]], selection: Selection) -> tuple[int, int]:
    """(kept, stopped) positions that training with ``selection`` would have reached on the
    validations ``rows`` of a longer run: the run stops at the first validation where the patience
    is exhausted (else at the last row), and keeps the best one up to there. One long run without
    early stopping thus tells the kept and stopped steps of every criterion and patience."""
    if not rows:
        raise ValueError("no validation to replay")
    keys = selection_keys(rows, selection)
    best = 0
    for i in range(len(rows)):
        if keys[i] > keys[best]:
            best = i
        if patience_exhausted(i + 1, best, int(rows[i]["step"]), selection):
            return best, i
    return best, len(rows) - 1


def kept_in_last_fifth(kept_step: int, cap: int) -> bool:
    """Whether ``kept_step`` lies in the last 20 % of a ``cap``-step budget, i.e. after step 0.8 x cap
    (a kept step exactly at 0.8 x cap is not in it)."""
    if cap < 1 or not 0 <= kept_step <= cap:
        raise ValueError(f"kept step {kept_step} outside a budget of {cap} steps")
    return 5 * int(kept_step) > 4 * int(cap)
