"""Training loop for the VAE family (VAE, RHVAE, geometry-aware VAE).

Adam on -ELBO; early stopping when the monitored ELBO (validation set if given, else the epoch's
mean training ELBO) has not improved for ``patience`` epochs; the best weights are restored at the
end, then the model's latent metric is rebuilt from the whole training set with them
(``model.fit_metric``, design pitfall 3). A non-finite term, loss or gradient raises
:class:`NonFiniteError` naming the epoch, the batch and the term; with ``nan_policy="restart"`` the
epoch is instead rerun from the last good state at ``restart_lr_factor`` times the rate (up to
``max_restarts`` times). The state is saved after every epoch and training resumes from it after a
kill. Every epoch is seeded from (seed, epoch, restarts), so a resumed run gives the same weights
as an uninterrupted one on the same device.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from medaug.models.checkpoint import save_model
from medaug.models.networks import config_from_dict
from medaug.models.vae import VAE
from medaug.train.curves import write_training_curves
from medaug.train.state import load_training_state, save_training_state

__all__ = ["TrainingConfig", "TrainingResult", "NonFiniteError", "train_model", "resolve_device"]

logger = logging.getLogger(__name__)

_NAN_POLICIES = ("stop", "restart")


@dataclass(frozen=True)
class TrainingConfig:
    """Optimisation and stopping parameters.

    Attributes:
        learning_rate: Adam's rate.
        batch_size: items per step (the last batch of an epoch may be smaller).
        max_epochs: cap on the number of epochs.
        patience: stop after this many epochs without improvement of the monitored ELBO.
        min_improvement: an epoch improves when its ELBO exceeds the best by more than this (nats).
        seed: seeds the batch order and the model's noise, epoch by epoch.
        nan_policy: ``"stop"`` (raise) or ``"restart"`` (rerun the epoch from the last good state).
        restart_lr_factor: rate multiplier applied at each restart.
        max_restarts: restarts allowed before giving up.
        eval_batch_size: items per forward pass for validation and for ``fit_metric``.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        progress: show a tqdm progress bar.
        plot_every: redraw the training-curve PNG every this many epochs (the TSV is rewritten
            every epoch; both are written at the end).
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
    plot_every: int = 10

    def __post_init__(self) -> None:
        if self.nan_policy not in _NAN_POLICIES:
            raise ValueError(f"nan_policy must be one of {_NAN_POLICIES}, got {self.nan_policy!r}")
        for name in ("learning_rate", "batch_size", "max_epochs", "patience", "eval_batch_size", "plot_every"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
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
        best_epoch: the epoch whose weights were kept (1-based).
        best_elbo: its monitored ELBO per sample (nats).
        monitored: ``"val"`` or ``"train"``.
        epochs_run: epochs completed (including those before a resume).
        stop_reason: ``"patience"`` or ``"max_epochs"``.
        restarts: restarts after non-finite values.
        history: one dict per epoch (the rows of the training-curve TSV).
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


class NonFiniteError(RuntimeError):
    """A NaN or Inf appeared in training; the message names the epoch, the batch and the term."""

    def __init__(self, epoch: int, batch: int, term: str) -> None:
        super().__init__(f"non-finite value in {term} at epoch {epoch}, batch {batch}")
        self.epoch, self.batch, self.term = epoch, batch, term


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _epoch_seed(seed: int, epoch: int, restarts: int) -> int:
    digest = hashlib.sha256(f"{seed}:{epoch}:{restarts}".encode()).digest()
    return int.from_bytes(digest[:7], "little")


def _data_fingerprint(data: Tensor | None) -> str | None:
    if data is None:
        return None
    flat = data.detach().to("cpu", torch.float64).flatten(1)
    summary = torch.stack([flat.sum(1), flat.pow(2).sum(1)], 1)
    return f"{tuple(data.shape)}:{hashlib.sha256(summary.numpy().tobytes()).hexdigest()[:16]}"


def _check_terms(output, epoch: int, batch: int) -> None:
    for name, value in output.terms.items():
        if not bool(torch.isfinite(value).all()):
            raise NonFiniteError(epoch, batch, f"ELBO term {name!r}")
    if not bool(torch.isfinite(output.loss)):
        raise NonFiniteError(epoch, batch, "loss")


def _check_gradients(model: torch.nn.Module, epoch: int, batch: int) -> None:
    for name, parameter in model.named_parameters():
        if parameter.grad is not None and not bool(torch.isfinite(parameter.grad).all()):
            raise NonFiniteError(epoch, batch, f"gradient of {name}")


def _run_epoch(model: VAE, optimizer, data: Tensor, config: TrainingConfig, epoch: int, generator: torch.Generator, device) -> dict[str, float]:
    """One pass of Adam steps; returns the sample-weighted means of the ELBO and its terms."""
    model.train()
    order = torch.randperm(data.shape[0], generator=generator)
    sums: dict[str, float] = {}
    for batch_index, start in enumerate(range(0, data.shape[0], config.batch_size), start=1):
        batch = data[order[start : start + config.batch_size]].to(device)
        output = model(batch)
        _check_terms(output, epoch, batch_index)
        optimizer.zero_grad(set_to_none=True)
        output.loss.backward()
        _check_gradients(model, epoch, batch_index)
        optimizer.step()
        for name, value in {"elbo": output.elbo, **output.terms}.items():
            sums[name] = sums.get(name, 0.0) + float(value.detach().sum())
    return {name: total / data.shape[0] for name, total in sums.items()}


@torch.no_grad()
def evaluate_elbo(model: VAE, data: Tensor, batch_size: int, device) -> float:
    """Mean ELBO per sample of ``data`` in eval mode (one Monte Carlo sample per item)."""
    model.eval()
    total = 0.0
    for start in range(0, data.shape[0], batch_size):
        total += float(model(data[start : start + batch_size].to(device)).elbo.sum())
    return total / data.shape[0]


def _snapshot(model: torch.nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def train_model(
    model: VAE,
    train_data: Tensor,
    val_data: Tensor | None,
    config: TrainingConfig,
    output_dir: str | Path,
    state_dir: str | Path | None = None,
) -> TrainingResult:
    """Train ``model`` on ``train_data`` (N, C, *S) and save it under ``output_dir``.

    Writes ``output_dir/model/`` (see :mod:`medaug.models.checkpoint`),
    ``output_dir/training_curve.tsv`` and ``output_dir/training_curve.png``; keeps the resumable
    state in ``state_dir`` (default ``output_dir/training_state``), which a later call with the same
    model config, training config and data resumes from.
    """
    output_dir = Path(output_dir)
    state_dir = Path(state_dir) if state_dir is not None else output_dir / "training_state"
    if train_data.ndim < 3 or train_data.shape[0] == 0:
        raise ValueError(f"train_data must be a non-empty (N, C, *S) tensor, got shape {tuple(train_data.shape)}")
    model.check_input(train_data[:1])
    if val_data is not None and val_data.shape[0] == 0:
        val_data = None
    if val_data is not None:
        model.check_input(val_data[:1])
    device = resolve_device(config.device)
    model.to(device)
    monitored = "val" if val_data is not None else "train"

    fingerprint = {
        "model_type": model.model_type,
        "model_config": model.config.to_dict(),
        # max_epochs and patience may change between a kill and the resume (e.g. to train longer)
        "training_config": {k: v for k, v in config.to_dict().items() if k not in ("progress", "device", "max_epochs", "patience", "plot_every")},
        "train_data": _data_fingerprint(train_data),
        "val_data": _data_fingerprint(val_data),
    }
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    counters = {"epoch": 0, "best_elbo": -math.inf, "best_epoch": 0, "stale_epochs": 0, "restarts": 0,
                "learning_rate": config.learning_rate, "history": []}
    best_state: dict[str, Tensor] | None = None
    resumed = load_training_state(state_dir, model, optimizer, fingerprint)
    if resumed is not None:
        counters, best_state = resumed
        logger.info("resuming from %s after epoch %d", state_dir, counters["epoch"])
    last_good = (_snapshot(model), copy.deepcopy(optimizer.state_dict()))

    progress = tqdm(total=config.max_epochs, initial=counters["epoch"], disable=not config.progress,
                    desc=f"train {model.model_type}", unit="epoch", leave=False)
    try:
        while counters["epoch"] < config.max_epochs and counters["stale_epochs"] < config.patience:
            epoch = counters["epoch"] + 1
            seed = _epoch_seed(config.seed, epoch, counters["restarts"])
            torch.manual_seed(seed)
            generator = torch.Generator().manual_seed(seed)
            started = time.perf_counter()
            try:
                train_stats = _run_epoch(model, optimizer, train_data, config, epoch, generator, device)
                val_elbo = math.nan
                if val_data is not None:
                    if model.metric_needed_for_evaluation:
                        model.fit_metric(train_data, config.eval_batch_size)
                    val_elbo = evaluate_elbo(model, val_data, config.eval_batch_size, device)
                    if not math.isfinite(val_elbo):
                        raise NonFiniteError(epoch, 0, "validation ELBO")
            except NonFiniteError as error:
                if config.nan_policy == "stop" or counters["restarts"] >= config.max_restarts:
                    raise
                counters["restarts"] += 1
                counters["learning_rate"] *= config.restart_lr_factor
                model.load_state_dict(last_good[0])
                optimizer.load_state_dict(copy.deepcopy(last_good[1]))
                for group in optimizer.param_groups:
                    group["lr"] = counters["learning_rate"]
                logger.warning("%s; restarting the epoch from the last good state with rate %.3g (restart %d/%d)",
                               error, counters["learning_rate"], counters["restarts"], config.max_restarts)
                continue

            value = val_elbo if monitored == "val" else train_stats["elbo"]
            if value > counters["best_elbo"] + config.min_improvement:
                counters.update(best_elbo=value, best_epoch=epoch, stale_epochs=0)
                best_state = _snapshot(model)
            else:
                counters["stale_epochs"] += 1
            row = {"epoch": epoch, "train_elbo": train_stats["elbo"], "val_elbo": val_elbo,
                   **{f"train_{k}": v for k, v in train_stats.items() if k != "elbo"},
                   "learning_rate": counters["learning_rate"], "seconds": time.perf_counter() - started}
            counters["history"].append(row)
            counters["epoch"] = epoch
            last_good = (_snapshot(model), copy.deepcopy(optimizer.state_dict()))
            save_training_state(state_dir, epoch, model, best_state, optimizer, counters, fingerprint)
            write_training_curves(counters["history"], output_dir / "training_curve.tsv",
                                  output_dir / "training_curve.png" if epoch % config.plot_every == 0 else None,
                                  counters["best_epoch"])
            progress.update(1)
            progress.set_postfix(elbo=f"{value:.4g}", best=f"{counters['best_elbo']:.4g}", best_epoch=counters["best_epoch"])
    finally:
        progress.close()

    stop_reason = "patience" if counters["stale_epochs"] >= config.patience else "max_epochs"
    if best_state is not None:
        model.load_state_dict(best_state)
    model.fit_metric(train_data, config.eval_batch_size)
    result = TrainingResult(
        best_epoch=counters["best_epoch"], best_elbo=counters["best_elbo"], monitored=monitored,
        epochs_run=counters["epoch"], stop_reason=stop_reason, restarts=counters["restarts"],
        history=counters["history"],
    )
    provenance = {k: v for k, v in dataclasses.asdict(result).items() if k not in ("history", "model_dir")}
    result.model_dir = save_model(model, output_dir / "model", extra={"training": provenance, "training_config": config.to_dict()})
    write_training_curves(counters["history"], output_dir / "training_curve.tsv", output_dir / "training_curve.png", counters["best_epoch"])
    return result
