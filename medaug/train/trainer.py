"""Training loop for the VAE family (VAE, RHVAE, geometry-aware VAE).

Adam on -ELBO (each model's own training objective; thesis ch. 1, sec. 1.3 for the RHVAE, ch. 3
for the geometry-aware VAE, whose training is a vanilla VAE's). Early stopping when the monitored
value has not improved for ``patience`` epochs; the best weights are restored at the end, then the
model's latent metric is rebuilt from the whole training set with them (``model.fit_metric``: the
samplers of the thesis, ch. 1 and 3, use the metric of the final encoder, not of a past epoch).

**Monitored value.** With a validation set: the plain VAE bound ``model.vae_elbo`` (the same lower
bound of log p(x) for every model of the family, independent of a latent metric), averaged over
the validation set in eval mode with a fixed seed, so that two epochs are compared on the same
noise; the RNG state is restored afterwards, so validation does not change training. Without one:
the epoch's mean training ELBO.

**Non-finite values.** A NaN or Inf in a term, the loss, a gradient or the validation value raises
:class:`NonFiniteError` naming the epoch, the batch and the term; with ``nan_policy="restart"`` the
epoch is instead rerun from the last completed epoch at ``restart_lr_factor`` times the rate (up to
``max_restarts`` times). The last completed epoch is kept in memory
(:class:`~medaug.train.snapshot.EpochSnapshot`, copied in place, no per-epoch allocation).

**Checkpoints.** The resumable state (:mod:`medaug.train.state`) and the training-curve table are
written every ``checkpoint_every_s`` seconds (0: after every epoch), at the end of training, and,
from the in-memory copy of the last completed epoch, when an exception (a ``KeyboardInterrupt``, an
exhausted restart budget) stops training. The curve figure is drawn at the end only. After a hard
kill training resumes from the last checkpoint. Every epoch is seeded from (seed, epoch, restarts),
so a run resumed from a checkpoint gives the same weights as an uninterrupted one on the same
device.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from medaug.models.checkpoint import save_model
from medaug.models.ppca import PPCAFit
from medaug.models.vae import VAE
from medaug.runtime import resolve_device
from medaug.train.config import TrainingConfig, TrainingResult, parameter_groups
from medaug.train.curves import write_training_curves
from medaug.train.snapshot import EpochSnapshot
from medaug.train.state import load_training_state, save_training_state

__all__ = ["TrainingConfig", "TrainingResult", "NonFiniteError", "train_model"]  # the settings live in medaug.train.config

logger = logging.getLogger(__name__)

class NonFiniteError(RuntimeError):
    """A NaN or Inf appeared in training; the message names the epoch, the batch and the term."""

    def __init__(self, epoch: int, batch: int, term: str) -> None:
        super().__init__(f"non-finite value in {term} at epoch {epoch}, batch {batch}")
        self.epoch, self.batch, self.term = epoch, batch, term


def _epoch_seed(seed: int, epoch: int, restarts: int) -> int:
    digest = hashlib.sha256(f"{seed}:{epoch}:{restarts}".encode()).digest()
    return int.from_bytes(digest[:7], "little")


def _data_fingerprint(data: Tensor | None) -> str | None:
    if data is None:
        return None
    flat = data.detach().to("cpu", torch.float64).flatten(1)
    summary = torch.stack([flat.sum(1), flat.pow(2).sum(1)], 1)
    return f"{tuple(data.shape)}:{hashlib.sha256(summary.numpy().tobytes()).hexdigest()[:16]}"


def _all_finite(tensors: list[Tensor]) -> bool:
    """Whether every value of every tensor is finite, with one device sync.

    The infinity norm of a tensor is NaN or Inf exactly when one of its values is.
    """
    tensors = [t for t in tensors if t.numel() > 0]
    if not tensors:
        return True
    return bool(torch.isfinite(torch.stack(torch._foreach_norm(tensors, math.inf))).all())


def _check_terms(output, epoch: int, batch: int) -> None:
    """Raise :class:`NonFiniteError` naming the first non-finite term."""
    values = {**{f"ELBO term {name!r}": value for name, value in output.terms.items()}, "loss": output.loss}
    if _all_finite([v.detach().reshape(-1) for v in values.values()]):
        return
    for name, value in values.items():
        if not bool(torch.isfinite(value).all()):
            raise NonFiniteError(epoch, batch, name)


def _check_gradients(model: torch.nn.Module, epoch: int, batch: int) -> None:
    """Raise :class:`NonFiniteError` naming the first parameter with a non-finite gradient."""
    named = [(name, p.grad) for name, p in model.named_parameters() if p.grad is not None]
    if _all_finite([grad for _, grad in named]):
        return
    for name, grad in named:
        if not bool(torch.isfinite(grad).all()):
            raise NonFiniteError(epoch, batch, f"gradient of {name}")


def _seed_torch(seed: int, device: torch.device) -> None:
    """Seed torch's default generators of the CPU and of ``device``.

    What ``torch.manual_seed`` does for those two, without visiting every other backend (on a
    CPU-only build that costs about as much as a small training step).
    """
    torch.default_generator.manual_seed(seed)
    if device.type == "cpu":
        return
    module = torch.get_device_module(device.type)
    if device.index is not None and hasattr(module, "device"):
        with module.device(device.index):
            module.manual_seed(seed)
    else:
        module.manual_seed(seed)


def _run_epoch(model: VAE, optimizer, data: Tensor, config: TrainingConfig, epoch: int, generator: torch.Generator, device) -> dict[str, float]:
    """One pass of Adam steps; returns the sample-weighted means of the ELBO and its terms (nats)."""
    if not model.training:  # evaluate_elbo puts the mode back; a module walk costs ~1 % of a small step
        model.train()
    order = torch.randperm(data.shape[0], generator=generator)
    names: list[str] = []
    sums: Tensor | None = None
    pinned = torch.device(device).type == "cuda" and data.device.type == "cpu"
    for batch_index, start in enumerate(range(0, data.shape[0], config.batch_size), start=1):
        batch = data[order[start : start + config.batch_size]]
        if pinned:  # page-locked host memory lets the copy below run without blocking the host
            batch = batch.pin_memory()
        batch = batch.to(device, non_blocking=True)
        output = model.vae_elbo(batch) if epoch <= config.warmup_epochs else model(batch)
        _check_terms(output, epoch, batch_index)
        optimizer.zero_grad(set_to_none=True)
        output.loss.backward()
        _check_gradients(model, epoch, batch_index)
        optimizer.step()
        with torch.no_grad():
            values = {"elbo": output.elbo, **output.terms}
            totals = torch.stack([v.detach().sum(dtype=torch.float64) for v in values.values()])
            names, sums = list(values), totals if sums is None else sums + totals
    return {name: total / data.shape[0] for name, total in zip(names, sums.tolist())}


def validation_seed(seed: int) -> int:
    """The seed of the validation noise of a run seeded with ``seed`` (the same for every epoch)."""
    digest = hashlib.sha256(f"{seed}:validation".encode()).digest()
    return int.from_bytes(digest[:7], "little")


def _forked_rng(device: torch.device):
    """Save the RNG state of the CPU and of ``device``; restore it on exit."""
    if device.type == "cpu":
        return torch.random.fork_rng(devices=[])
    index = device.index if device.index is not None else torch.get_device_module(device.type).current_device()
    return torch.random.fork_rng(devices=[index], device_type=device.type)


@torch.no_grad()
def evaluate_elbo(model: VAE, data: Tensor, batch_size: int, device=None, seed: int = 0) -> float:
    """Mean VAE ELBO per sample of ``data`` (N, C, *S), in nats: ``model.vae_elbo`` in eval mode.

    The noise of the reparametrisation (one Monte Carlo sample per item) is drawn after seeding
    torch with ``seed``, so the value is a deterministic function of the weights; the RNG
    state of the CPU and of ``device`` is restored afterwards and the model's train/eval mode too,
    so calling this does not change what training draws next.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=device)
    try:
        with _forked_rng(device):
            _seed_torch(seed, device)
            for start in range(0, data.shape[0], batch_size):
                total += model.vae_elbo(data[start : start + batch_size].to(device)).elbo.sum(dtype=torch.float64)
    finally:
        model.train(was_training)
    return float(total) / data.shape[0]


class _Checkpointer:
    """Writes the resumable state and the curve table; decides when (see :class:`TrainingConfig`)."""

    def __init__(self, state_dir: Path, curve_tsv: Path, fingerprint: dict[str, Any], every_s: float, saved_epoch: int) -> None:
        self.state_dir, self.curve_tsv, self.fingerprint, self.every_s = state_dir, curve_tsv, fingerprint, every_s
        self.saved_epoch = saved_epoch
        self.last_write = _clock()

    def due(self) -> bool:
        return self.every_s == 0 or _clock() - self.last_write >= self.every_s

    def write(self, epoch: int, model_state, best_state, optimizer_state, counters: dict[str, Any]) -> None:
        save_training_state(self.state_dir, epoch, model_state, best_state, optimizer_state, counters, self.fingerprint)
        write_training_curves(counters["history"], self.curve_tsv, None, counters["best_epoch"])
        self.saved_epoch = epoch
        self.last_write = _clock()


#: The checkpoints' clock (seconds); tests replace it.
_clock = time.monotonic


def _write_snapshot(checkpointer: _Checkpointer, snapshot: EpochSnapshot, history: list) -> None:
    """Write the captured epoch (its weights stored once when it is also the best epoch)."""
    checkpointer.write(snapshot.epoch, snapshot.model_state, snapshot.best_state, snapshot.optimizer_state(),
                       snapshot.trainer_counters(history))


def _save_last_good(checkpointer: _Checkpointer, snapshot: EpochSnapshot, history: list) -> None:
    """On the way out of an exception: write the last completed epoch if no checkpoint holds it yet."""
    if snapshot.epoch <= checkpointer.saved_epoch:
        return
    logger.warning("training stopped; saving the state after epoch %d to %s", snapshot.epoch, checkpointer.state_dir)
    try:
        _write_snapshot(checkpointer, snapshot, history)
    except Exception:  # never hide the exception that stopped training
        logger.exception("could not save the training state after epoch %d", snapshot.epoch)


def train_model(
    model: VAE,
    train_data: Tensor,
    val_data: Tensor | None,
    config: TrainingConfig,
    output_dir: str | Path,
    state_dir: str | Path | None = None,
    linear_start: PPCAFit | None = None,
) -> TrainingResult:
    """Train ``model`` on ``train_data`` (N, C, *S) and save it under ``output_dir``.

    Writes ``output_dir/model/`` (see :mod:`medaug.models.checkpoint`),
    ``output_dir/training_curve.tsv`` and ``output_dir/training_curve.png``; keeps the resumable
    state in ``state_dir`` (default ``output_dir/training_state``), which a later call with the same
    model config, training config and data resumes from. A fresh (not resumed) run first calls
    ``model.prepare_for_training(train_data, linear_start)``; a resumed one restores those buffers
    from the state.
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
    val_seed = validation_seed(config.seed)

    fingerprint = {
        "model_type": model.model_type,
        "model_config": model.config.to_dict(),
        # max_epochs and patience may change between a kill and the resume (e.g. to train longer)
        "training_config": {k: v for k, v in config.to_dict().items()
                            if k not in ("progress", "device", "max_epochs", "patience", "checkpoint_every_s")},
        "train_data": _data_fingerprint(train_data),
        "val_data": _data_fingerprint(val_data),
        "linear_start": None if linear_start is None else _data_fingerprint(linear_start.components[None]),
    }
    optimizer = torch.optim.AdamW(parameter_groups(model, config), lr=config.learning_rate)
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
            counters["start_elbo"] = evaluate_elbo(model, val_data, config.eval_batch_size, device, val_seed)
            if config.select_from_start and math.isfinite(counters["start_elbo"]):
                counters["best_elbo"] = counters["start_elbo"]
    checkpointer = _Checkpointer(state_dir, output_dir / "training_curve.tsv", fingerprint, config.checkpoint_every_s,
                                 saved_epoch=counters["epoch"])
    last_good.capture(counters["epoch"], model, optimizer, counters,
                      is_best=resumed is None and counters["best_elbo"] > -math.inf)

    progress = tqdm(total=config.max_epochs, initial=counters["epoch"], disable=not config.progress,
                    desc=f"train {model.model_type}", unit="epoch", leave=False)
    try:
        while counters["epoch"] < config.max_epochs and counters["stale_epochs"] < config.patience:
            epoch = counters["epoch"] + 1
            seed = _epoch_seed(config.seed, epoch, counters["restarts"])
            _seed_torch(seed, device)
            generator = torch.Generator().manual_seed(seed)
            started = time.perf_counter()
            try:
                train_stats = _run_epoch(model, optimizer, train_data, config, epoch, generator, device)
                val_elbo = math.nan
                if val_data is not None:
                    val_elbo = evaluate_elbo(model, val_data, config.eval_batch_size, device, val_seed)
                    if not math.isfinite(val_elbo):
                        raise NonFiniteError(epoch, 0, "validation ELBO")
            except NonFiniteError as error:
                if config.nan_policy == "stop" or counters["restarts"] >= config.max_restarts:
                    raise
                counters["restarts"] += 1
                counters["learning_rate"] *= config.restart_lr_factor
                last_good.restore(model, optimizer)
                for group in optimizer.param_groups:
                    group["lr"] = counters["learning_rate"] * group["lr_scale"]
                logger.warning("%s; restarting the epoch from the last good state with rate %.3g (restart %d/%d)",
                               error, counters["learning_rate"], counters["restarts"], config.max_restarts)
                continue

            value = val_elbo if monitored == "val" else train_stats["elbo"]
            warming_up = epoch <= config.warmup_epochs
            candidate = config.select_from_start or not warming_up
            improved = candidate and value > counters["best_elbo"] + config.min_improvement
            if improved:
                counters.update(best_elbo=value, best_epoch=epoch, stale_epochs=0)
            elif not warming_up:
                counters["stale_epochs"] += 1
            row = {"epoch": epoch, "warmup": int(warming_up), "train_elbo": train_stats["elbo"], "val_elbo": val_elbo,
                   **{f"train_{k}": v for k, v in train_stats.items() if k != "elbo"},
                   "learning_rate": counters["learning_rate"], "seconds": time.perf_counter() - started}
            counters["history"].append(row)
            counters["epoch"] = epoch
            last_good.capture(epoch, model, optimizer, counters, is_best=improved)
            if checkpointer.due():
                _write_snapshot(checkpointer, last_good, counters["history"])
            if config.progress:
                progress.update(1)
                progress.set_postfix(elbo=f"{value:.4g}", best=f"{counters['best_elbo']:.4g}",
                                     best_epoch=counters["best_epoch"], refresh=False)
    except BaseException:
        _save_last_good(checkpointer, last_good, counters["history"])
        raise
    finally:
        progress.close()
    if checkpointer.saved_epoch != counters["epoch"]:
        _write_snapshot(checkpointer, last_good, counters["history"])

    stop_reason = "patience" if counters["stale_epochs"] >= config.patience else "max_epochs"
    if last_good.best_state is not None:
        model.load_state_dict(last_good.best_state)
    model.fit_metric(train_data, config.eval_batch_size)
    result = TrainingResult(
        best_epoch=counters["best_epoch"], best_elbo=counters["best_elbo"], monitored=monitored,
        epochs_run=counters["epoch"], stop_reason=stop_reason, restarts=counters["restarts"],
        history=counters["history"], start_elbo=counters.get("start_elbo", math.nan),
    )
    provenance = {k: v for k, v in dataclasses.asdict(result).items() if k not in ("history", "model_dir")}
    result.model_dir = save_model(model, output_dir / "model", extra={"training": provenance, "training_config": config.to_dict()})
    write_training_curves(counters["history"], output_dir / "training_curve.tsv", output_dir / "training_curve.png", counters["best_epoch"])
    return result
