"""Settings and outcome of :func:`medaug.train.trainer.train_model`, and Adam's parameter groups."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from medaug.models.networks import config_from_dict

__all__ = ["TrainingConfig", "TrainingResult", "freeze_linear_path", "linear_path_frozen", "parameter_groups"]

_NAN_POLICIES = ("stop", "restart")


@dataclass(frozen=True)
class TrainingConfig:
    """Optimisation and stopping parameters.

    Attributes:
        learning_rate: Adam's rate.
        batch_size: items per step (the last batch of an epoch may be smaller).
        max_epochs: cap on the number of epochs.
        patience: stop after this many epochs without improvement of the monitored value.
        min_improvement: an epoch improves when its monitored value exceeds the best by more than
            this (nats per sample).
        seed: seeds the batch order and the model's noise, epoch by epoch, and the validation noise.
        nan_policy: ``"stop"`` (raise) or ``"restart"`` (rerun the epoch from the last good state).
        restart_lr_factor: rate multiplier applied at each restart.
        max_restarts: restarts allowed before giving up.
        eval_batch_size: items per forward pass for validation and for ``fit_metric``.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        progress: show a tqdm progress bar.
        warmup_epochs: the first epochs optimise the plain VAE bound (``model.vae_elbo``) instead
            of the model's own objective; they are not candidates for the kept weights and do not
            count towards ``patience``. Every model of the family shares the VAE's generative model
            and encoder, and for the RHVAE this bound is its ELBO without flow steps (K = 0), so the
            warm-up trains the same parameters at a fraction of an RHVAE step's cost (no double
            backward through the decoder at K + 1 positions); the metric network trains afterwards.
            0 (the thesis) trains on the model's own objective from the first step.
        select_from_start: every epoch is a candidate for the kept weights, the warm-up epochs and
            the untrained start (epoch 0: the initialisation, e.g. the PPCA of the linear path)
            included, so training never returns a model worse on validation than where it began.
            False keeps the thesis' rule (candidates from the first epoch after the warm-up).
            Patience counts epochs after the warm-up either way.
        linear_path_learning_rate: Adam's rate for the linear path of a model with one
            (``linear_*`` parameters); None: ``learning_rate``. The linear path starts at the
            maximum-likelihood PPCA of the training set, so any move it makes fits the training
            set better and, on a few dozen volumes, the held-out volumes worse; a lower rate (or
            0, frozen) lets the networks learn what the PPCA misses instead.
        network_weight_decay: decoupled weight decay (AdamW, Loshchilov and Hutter 2019) of the
            encoder, decoder and metric networks, per step, times the rate.
        checkpoint_every_s: write the resumable state and the curve table when this many seconds
            (wall clock) have passed since the last write; 0 writes after every epoch. Both are
            also written at the end and when an exception stops training; the curve figure is
            drawn at the end only.
    """

    learning_rate: float = 1e-3
    batch_size: int = 25
    max_epochs: int = 100
    patience: int = 50
    min_improvement: float = 0.0
    seed: int = 0
    nan_policy: str = "stop"
    restart_lr_factor: float = 0.5
    max_restarts: int = 3
    eval_batch_size: int = 25
    device: str = "auto"
    progress: bool = True
    checkpoint_every_s: float = 600.0
    warmup_epochs: int = 0
    select_from_start: bool = False
    linear_path_learning_rate: float | None = None
    network_weight_decay: float = 0.0

    def __post_init__(self) -> None:
        if self.nan_policy not in _NAN_POLICIES:
            raise ValueError(f"nan_policy must be one of {_NAN_POLICIES}, got {self.nan_policy!r}")
        for name in ("learning_rate", "batch_size", "max_epochs", "patience", "eval_batch_size"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 <= self.warmup_epochs < self.max_epochs:
            raise ValueError(f"warmup_epochs must be in [0, max_epochs = {self.max_epochs}), got {self.warmup_epochs}")
        if not self.checkpoint_every_s >= 0:
            raise ValueError(f"checkpoint_every_s must be >= 0 seconds, got {self.checkpoint_every_s}")
        if self.linear_path_learning_rate is not None and not self.linear_path_learning_rate >= 0:
            raise ValueError(f"linear_path_learning_rate must be >= 0 or None, got {self.linear_path_learning_rate}")
        if not self.network_weight_decay >= 0:
            raise ValueError(f"network_weight_decay must be >= 0, got {self.network_weight_decay}")
        if not 0.0 < self.restart_lr_factor < 1.0:
            raise ValueError(f"restart_lr_factor must be in (0, 1), got {self.restart_lr_factor}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainingConfig":
        return config_from_dict(cls, values)


@dataclass
class TrainingResult:
    """Outcome of :func:`train_model`.

    Attributes:
        best_epoch: the epoch whose weights were kept (1-based; 0: the untrained start, only
            with ``select_from_start``).
        best_elbo: its monitored value per sample (nats): the validation VAE ELBO
            (``model.vae_elbo``) or the mean training ELBO.
        monitored: ``"val"`` or ``"train"``.
        start_elbo: the monitored value of the untrained start (after ``prepare_for_training``),
            NaN when only the training ELBO is monitored.
        epochs_run: epochs completed (including those before a resume).
        stop_reason: ``"patience"`` or ``"max_epochs"``.
        restarts: restarts after non-finite values.
        history: one dict per epoch (the rows of the training-curve TSV): ``train_elbo`` (the
            model's own training objective) and its terms, ``val_elbo`` (validation VAE ELBO,
            NaN without a validation set), ``learning_rate``, ``seconds``.
        model_dir: where the final model was saved.
    """

    best_epoch: int
    best_elbo: float
    monitored: str
    epochs_run: int
    stop_reason: str
    restarts: int
    history: list[dict[str, float]] = field(default_factory=list)
    model_dir: Path | None = None
    start_elbo: float = math.nan


def linear_path_frozen(config: TrainingConfig) -> bool:
    """Whether the linear path trains at rate 0 (``linear_path_learning_rate: 0``): it then stays at its PPCA start."""
    return config.linear_path_learning_rate == 0.0


def parameter_groups(model: torch.nn.Module, config: TrainingConfig) -> list[dict[str, Any]]:
    """Adam's parameter groups: the linear path (``linear_*``) at its own rate, the networks with decay.

    A frozen linear path (:func:`linear_path_frozen`) is left out: AdamW at rate 0 would not move it,
    but would still keep moments for its (D x d) matrices, the largest tensors of the model.
    """
    linear = [p for name, p in model.named_parameters() if name.startswith("linear_")]
    networks = [p for name, p in model.named_parameters() if not name.startswith("linear_")]
    groups = [{"params": networks, "lr": config.learning_rate, "weight_decay": config.network_weight_decay,
               "lr_scale": 1.0}]
    if linear and not linear_path_frozen(config):
        rate = config.learning_rate if config.linear_path_learning_rate is None else config.linear_path_learning_rate
        groups.append({"params": linear, "lr": rate, "weight_decay": 0.0, "lr_scale": rate / config.learning_rate})
    return groups


def freeze_linear_path(model: torch.nn.Module, config: TrainingConfig) -> None:
    """Stop gradients of the ``linear_*`` parameters when the linear path is frozen (no backward work for them)."""
    if linear_path_frozen(config):
        for name, parameter in model.named_parameters():
            if name.startswith("linear_"):
                parameter.requires_grad_(False)
