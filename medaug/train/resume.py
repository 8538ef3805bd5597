"""Starting or resuming a training run, and its checkpoints.

A run is identified by its fingerprint (model config, training config, data); a resumable state
(:mod:`medaug.train.state`) with the same fingerprint is picked up where it stopped. The
:class:`Checkpointer` writes that state and the curve table every ``checkpoint_every_s`` seconds
(0: after every epoch) from the in-memory copy of the last completed epoch
(:class:`~medaug.train.snapshot.EpochSnapshot`).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from medaug.models.ppca import PPCAFit
from medaug.train.curves import write_training_curves
from medaug.train.snapshot import EpochSnapshot
from medaug.train.state import load_training_state, save_training_state

__all__ = ["Checkpointer", "data_fingerprint", "save_last_good", "start_or_resume", "training_fingerprint",
           "write_snapshot"]

logger = logging.getLogger(__name__)

#: The checkpoints' clock (seconds); tests replace it.
clock = time.monotonic

# Settings that may change between a kill and the resume (e.g. max_epochs, to train longer).
RESUMABLE_CHANGES = ("progress", "device", "max_epochs", "patience", "checkpoint_every_s")


def data_fingerprint(data: Tensor | None) -> str | None:
    """Shape and a hash of the per-item sums and sums of squares of ``data`` (N, ...), or None."""
    if data is None:
        return None
    flat = data.detach().to("cpu", torch.float64).flatten(1)
    summary = torch.stack([flat.sum(1), flat.pow(2).sum(1)], 1)
    return f"{tuple(data.shape)}:{hashlib.sha256(summary.numpy().tobytes()).hexdigest()[:16]}"


def training_fingerprint(model, config, train_data: Tensor, val_data: Tensor | None,
                         linear_start: PPCAFit | None = None) -> dict[str, Any]:
    """What a resumable state must match: the model, the training settings, the data and the linear start."""
    return {
        "model_type": model.model_type,
        "model_config": model.config.to_dict(),
        "training_config": {k: v for k, v in config.to_dict().items() if k not in RESUMABLE_CHANGES},
        "train_data": data_fingerprint(train_data),
        "val_data": data_fingerprint(val_data),
        "linear_start": None if linear_start is None else data_fingerprint(linear_start.components[None]),
    }


class Checkpointer:
    """Writes the resumable state and the curve table; decides when (see :class:`TrainingConfig`)."""

    def __init__(self, state_dir: Path, curve_tsv: Path, fingerprint: dict[str, Any], every_s: float, saved_epoch: int) -> None:
        self.state_dir, self.curve_tsv, self.fingerprint, self.every_s = state_dir, curve_tsv, fingerprint, every_s
        self.saved_epoch = saved_epoch
        self.last_write = clock()

    def due(self) -> bool:
        return self.every_s == 0 or clock() - self.last_write >= self.every_s

    def write(self, epoch: int, model_state, best_state, optimizer_state, counters: dict[str, Any]) -> None:
        save_training_state(self.state_dir, epoch, model_state, best_state, optimizer_state, counters, self.fingerprint)
        write_training_curves(counters["history"], self.curve_tsv, None, counters["best_epoch"])
        self.saved_epoch = epoch
        self.last_write = clock()


def write_snapshot(checkpointer: Checkpointer, snapshot: EpochSnapshot, history: list) -> None:
    """Write the captured epoch (its weights stored once when it is also the best epoch)."""
    checkpointer.write(snapshot.epoch, snapshot.model_state, snapshot.best_state, snapshot.optimizer_state(),
                       snapshot.trainer_counters(history))


def save_last_good(checkpointer: Checkpointer, snapshot: EpochSnapshot, history: list) -> None:
    """On the way out of an exception: write the last completed epoch if no checkpoint holds it yet."""
    if snapshot.epoch <= checkpointer.saved_epoch:
        return
    logger.warning("training stopped; saving the state after epoch %d to %s", snapshot.epoch, checkpointer.state_dir)
    try:
        write_snapshot(checkpointer, snapshot, history)
    except Exception:  # never hide the exception that stopped training
        logger.exception("could not save the training state after epoch %d", snapshot.epoch)


def start_or_resume(model, optimizer: torch.optim.Optimizer, train_data: Tensor, val_data: Tensor | None, config,
                    state_dir: Path, curve_tsv: Path, start_elbo,
                    linear_start: PPCAFit | None = None) -> tuple[dict[str, Any], EpochSnapshot, Checkpointer]:
    """Resume from ``state_dir`` when it holds this run's state, else start afresh.

    A fresh run calls ``model.prepare_for_training(train_data, linear_start)`` and, with a validation
    set, scores the untrained start with ``start_elbo(model)`` (the kept value when
    ``select_from_start``).
    Returns the trainer counters (``epoch``, ``best_elbo``, ``best_epoch``, ``stale_epochs``,
    ``restarts``, ``learning_rate``, ``start_elbo``, ``history``), the snapshot of the starting
    epoch and the checkpointer.
    """
    fingerprint = training_fingerprint(model, config, train_data, val_data, linear_start)
    counters = {"epoch": 0, "best_elbo": -math.inf, "best_epoch": 0, "stale_epochs": 0, "restarts": 0,
                "learning_rate": config.learning_rate, "start_elbo": math.nan, "history": []}
    last_good = EpochSnapshot()  # the last completed epoch and the best weights so far
    resumed = load_training_state(state_dir, model, optimizer, fingerprint)
    if resumed is not None:
        counters, best_state = resumed
        last_good.set_best(best_state)
        logger.info("resuming from %s after epoch %d", state_dir, counters["epoch"])
    else:
        model.prepare_for_training(train_data, linear_start)
        if val_data is not None:
            counters["start_elbo"] = start_elbo(model)
            if config.select_from_start and math.isfinite(counters["start_elbo"]):
                counters["best_elbo"] = counters["start_elbo"]
    checkpointer = Checkpointer(state_dir, curve_tsv, fingerprint, config.checkpoint_every_s, saved_epoch=counters["epoch"])
    last_good.capture(counters["epoch"], model, optimizer, counters,
                      is_best=resumed is None and counters["best_elbo"] > -math.inf)
    return counters, last_good, checkpointer
