"""What the trainer does after a NaN or Inf: raise, or rerun the epoch from the last good state at a
lower learning rate (``nan_policy``, ``restart_lr_factor``, ``max_restarts`` of the training config)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from medaug.train.finite import NonFiniteError
from medaug.train.snapshot import EpochSnapshot

__all__ = ["RestartPolicy"]

logger = logging.getLogger(__name__)


@dataclass
class RestartPolicy:
    """The restart budget and the current base learning rate (each group's rate is it times ``lr_scale``)."""

    policy: str
    max_restarts: int
    lr_factor: float
    restarts: int
    learning_rate: float

    @classmethod
    def from_counters(cls, config, counters: Mapping[str, Any]) -> RestartPolicy:
        """The policy of ``config`` after the restarts recorded in the trainer's ``counters``."""
        return cls(config.nan_policy, config.max_restarts, config.restart_lr_factor, counters["restarts"],
                   counters["learning_rate"])

    def counters(self) -> dict[str, Any]:
        """The trainer counters this policy owns, under the names the resumable state stores."""
        return {"restarts": self.restarts, "learning_rate": self.learning_rate}

    def restart(self, error: NonFiniteError, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                last_good: EpochSnapshot) -> None:
        """Put back the last good epoch at ``lr_factor`` times the rate; re-raise ``error`` when the
        policy is ``"stop"`` or the budget is spent."""
        if self.policy == "stop" or self.restarts >= self.max_restarts:
            raise error
        self.restarts += 1
        self.learning_rate *= self.lr_factor
        last_good.restore(model, optimizer)
        for group in optimizer.param_groups:
            group["lr"] = self.learning_rate * group["lr_scale"]
        logger.warning("%s; restarting the epoch from the last good state with rate %.3g (restart %d/%d)",
                       error, self.learning_rate, self.restarts, self.max_restarts)
