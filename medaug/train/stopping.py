"""Early stopping on the monitored ELBO: the best value and epoch so far, and the epochs without gain."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["EarlyStopping"]


@dataclass
class EarlyStopping:
    """Stops training after ``patience`` epochs whose value does not exceed the best by ``min_improvement``.

    The first ``warmup_epochs`` epochs (which optimise the plain VAE bound) neither count as stale
    nor, unless ``select_from_start``, become the best. Values are ELBOs in nats (higher is better).
    """

    patience: int
    min_improvement: float = 0.0
    warmup_epochs: int = 0
    select_from_start: bool = False
    best_value: float = -math.inf
    best_epoch: int = 0
    stale_epochs: int = 0

    @classmethod
    def from_counters(cls, config, counters: Mapping[str, Any]) -> EarlyStopping:
        """The stopping rule of ``config`` (a :class:`~medaug.train.config.TrainingConfig`) at the
        point recorded in the trainer's ``counters`` (``best_elbo``, ``best_epoch``, ``stale_epochs``)."""
        return cls(config.patience, config.min_improvement, config.warmup_epochs, config.select_from_start,
                   counters["best_elbo"], counters["best_epoch"], counters["stale_epochs"])

    def counters(self) -> dict[str, Any]:
        """The trainer counters this rule owns, under the names the resumable state stores."""
        return {"best_elbo": self.best_value, "best_epoch": self.best_epoch, "stale_epochs": self.stale_epochs}

    def warming_up(self, epoch: int) -> bool:
        return epoch <= self.warmup_epochs

    def update(self, epoch: int, value: float) -> bool:
        """Record epoch ``epoch``'s monitored ``value``; return whether it is the new best."""
        warming_up = self.warming_up(epoch)
        improved = (self.select_from_start or not warming_up) and value > self.best_value + self.min_improvement
        if improved:
            self.best_value, self.best_epoch, self.stale_epochs = value, epoch, 0
        elif not warming_up:
            self.stale_epochs += 1
        return improved

    @property
    def stopped(self) -> bool:
        return self.stale_epochs >= self.patience
