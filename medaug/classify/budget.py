"""How long a classifier trains and when it is validated: a budget in epochs or in optimisation steps.

- ``unit: epochs`` is the thesis' schedule (sec. 1.5.5): ``epochs`` passes over the training set,
  the real validation set scored after each one. A set with more images then takes more Adam
  steps: 144 real + 400 synthetic images take 544 / 144 = 3.8 times the steps of the 144 real ones.
- ``unit: steps`` gives every training set the same optimisation effort: batches are drawn
  epoch-wise over the shuffled training set (each image once per pass, a new order every pass)
  until ``steps`` Adam updates are done, and the validation set is scored after every
  ``eval_every`` steps and after the last one. A larger set then makes fewer passes over its images.

One step is one Adam update on one batch. The index batches of a pass come from
:func:`epoch_batches`: ``batch_size`` images each, a trailing batch of a single image joined to
the one before it (batch norm cannot train on one 1x1x1 feature map), so a pass over ``n``
images is :func:`batches_per_epoch` steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from medaug.config import check_keys, dataclass_keys

EPOCHS, STEPS = "epochs", "steps"
UNITS = (EPOCHS, STEPS)


def epoch_batches(n: int, batch_size: int, generator: torch.Generator | None) -> list[torch.Tensor]:
    """One pass over ``range(n)`` as index batches (int64 tensors), shuffled with ``generator``
    (in order when None); a trailing batch of one image joins the previous batch."""
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    batches = list(order.split(batch_size))
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2:] = [torch.cat(batches[-2:])]
    return batches


def batches_per_epoch(n: int, batch_size: int) -> int:
    """Steps in one pass over ``n`` images (the number of batches :func:`epoch_batches` gives)."""
    if n < 1 or batch_size < 1:
        raise ValueError(f"need n >= 1 and batch_size >= 1, got n={n}, batch_size={batch_size}")
    count = math.ceil(n / batch_size)
    return count - 1 if count > 1 and n % batch_size == 1 else count


def batch_stream(n: int, batch_size: int, generator: torch.Generator) -> Iterator[tuple[int, torch.Tensor]]:
    """Endless ``(pass, index batch)`` pairs, pass counted from 1, reshuffled at every pass."""
    epoch = 0
    while True:
        epoch += 1
        for batch in epoch_batches(n, batch_size, generator):
            yield epoch, batch


@dataclass(frozen=True)
class TrainingBudget:
    """The training length (``classify.training.budget``).

    Attributes:
        unit: ``epochs`` or ``steps`` (see the module docstring).
        epochs: passes over the training set (unit ``epochs``; ignored otherwise, may be None).
        steps: Adam updates, the same for every training set (unit ``steps``; may be None otherwise).
        eval_every: validation every this many steps (unit ``steps``; may be None otherwise).
    """

    unit: str = EPOCHS
    epochs: int | None = 100
    steps: int | None = None
    eval_every: int | None = None

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"budget unit must be one of {UNITS}, got {self.unit!r}")
        if self.unit == EPOCHS and not (isinstance(self.epochs, int) and self.epochs >= 1):
            raise ValueError(f"budget unit 'epochs' needs epochs >= 1, got {self.epochs!r}")
        if self.unit == STEPS:
            if not (isinstance(self.steps, int) and self.steps >= 1):
                raise ValueError(f"budget unit 'steps' needs steps >= 1, got {self.steps!r}")
            if not (isinstance(self.eval_every, int) and 1 <= self.eval_every <= self.steps):
                raise ValueError(f"budget unit 'steps' needs 1 <= eval_every <= steps ({self.steps}), "
                                 f"got {self.eval_every!r}")

    @classmethod
    def of_epochs(cls, epochs: int) -> "TrainingBudget":
        return cls(unit=EPOCHS, epochs=epochs)

    @classmethod
    def of_steps(cls, steps: int, eval_every: int) -> "TrainingBudget":
        return cls(unit=STEPS, epochs=None, steps=steps, eval_every=eval_every)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "TrainingBudget":
        check_keys(values, dataclass_keys(cls), "classify.training.budget")
        return cls(**{k: int(v) if k != "unit" and v is not None else v for k, v in values.items()})

    def total_steps(self, n_train: int, batch_size: int) -> int:
        """Adam updates for a training set of ``n_train`` images."""
        if self.unit == STEPS:
            return int(self.steps)
        return int(self.epochs) * batches_per_epoch(n_train, batch_size)

    def validates_after(self, step: int, n_train: int, batch_size: int) -> bool:
        """Whether the validation set is scored after update number ``step`` (counted from 1):
        at the end of every pass (epochs), or every ``eval_every`` steps and after the last (steps)."""
        if self.unit == STEPS:
            return step % int(self.eval_every) == 0 or step == int(self.steps)
        return step % batches_per_epoch(n_train, batch_size) == 0

    def describe(self) -> str:
        """One line for logs and reports, e.g. ``540 optimisation steps, validation every 18 steps``."""
        if self.unit == STEPS:
            return f"{self.steps} optimisation steps, validation every {self.eval_every} steps"
        return f"{self.epochs} epochs, validation after each epoch"

    def to_dict(self) -> dict[str, Any]:
        """The keys that matter for the unit (the others are ignored in training)."""
        if self.unit == STEPS:
            return {"unit": STEPS, "steps": self.steps, "eval_every": self.eval_every}
        return {"unit": EPOCHS, "epochs": self.epochs}
