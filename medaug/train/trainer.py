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
import math
import time
from pathlib import Path

import torch
from torch import Tensor
from tqdm.auto import tqdm

from medaug.models.checkpoint import save_model
from medaug.models.ppca import PPCAFit
from medaug.models.vae import VAE
from medaug.runtime import resolve_device
from medaug.train.config import TrainingConfig, TrainingResult, freeze_linear_path, parameter_groups
from medaug.train.curves import history_row, write_training_curves
from medaug.train.finite import NonFiniteError, check_gradients, check_terms
from medaug.train.restarts import RestartPolicy
from medaug.train.resume import Checkpointer, save_last_good, start_or_resume, write_snapshot
from medaug.train.seeding import epoch_seed, forked_rng, seed_torch, validation_seed
from medaug.train.snapshot import EpochSnapshot
from medaug.train.stopping import EarlyStopping

__all__ = ["TrainingConfig", "TrainingResult", "NonFiniteError", "evaluate_elbo", "train_model", "validation_seed"]


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
        check_terms(output, epoch, batch_index)
        optimizer.zero_grad(set_to_none=True)
        output.loss.backward()
        check_gradients(model, epoch, batch_index)
        optimizer.step()
        with torch.no_grad():
            values = {"elbo": output.elbo, **output.terms}
            totals = torch.stack([v.detach().sum(dtype=torch.float64) for v in values.values()])
            names, sums = list(values), totals if sums is None else sums + totals
    return {name: total / data.shape[0] for name, total in zip(names, sums.tolist())}


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
        with forked_rng(device):
            seed_torch(seed, device)
            for start in range(0, data.shape[0], batch_size):
                total += model.vae_elbo(data[start : start + batch_size].to(device)).elbo.sum(dtype=torch.float64)
    finally:
        model.train(was_training)
    return float(total) / data.shape[0]


def _checked_validation(model: VAE, train_data: Tensor, val_data: Tensor | None) -> Tensor | None:
    """Check the inputs' shapes against the model; an empty validation set counts as none."""
    if train_data.ndim < 3 or train_data.shape[0] == 0:
        raise ValueError(f"train_data must be a non-empty (N, C, *S) tensor, got shape {tuple(train_data.shape)}")
    model.check_input(train_data[:1])
    if val_data is not None and val_data.shape[0] == 0:
        return None
    if val_data is not None:
        model.check_input(val_data[:1])
    return val_data


@dataclasses.dataclass
class _Run:
    """What the epoch loop reads and updates: the data, the policies and the record of the run."""

    train_data: Tensor
    val_data: Tensor | None
    device: torch.device
    optimizer: torch.optim.Optimizer
    stopping: EarlyStopping
    restarts: RestartPolicy
    last_good: EpochSnapshot
    checkpointer: Checkpointer
    epoch: int
    start_elbo: float
    history: list

    def counters(self) -> dict:
        """The trainer counters as the resumable state stores them."""
        return {"epoch": self.epoch, **self.stopping.counters(), **self.restarts.counters(),
                "start_elbo": self.start_elbo, "history": self.history}


def _train_epoch(model: VAE, run: _Run, config: TrainingConfig, val_seed: int) -> tuple[float, bool] | None:
    """Run and record the next epoch; return (monitored value, whether it is the best), or None after
    a restart (:class:`RestartPolicy`)."""
    epoch = run.epoch + 1
    seed = epoch_seed(config.seed, epoch, run.restarts.restarts)
    seed_torch(seed, run.device)
    generator = torch.Generator().manual_seed(seed)
    started = time.perf_counter()
    try:
        train_stats = _run_epoch(model, run.optimizer, run.train_data, config, epoch, generator, run.device)
        val_elbo = math.nan
        if run.val_data is not None:
            val_elbo = evaluate_elbo(model, run.val_data, config.eval_batch_size, run.device, val_seed)
            if not math.isfinite(val_elbo):
                raise NonFiniteError(epoch, 0, "validation ELBO")
    except NonFiniteError as error:
        run.restarts.restart(error, model, run.optimizer, run.last_good)
        return None
    value = val_elbo if run.val_data is not None else train_stats["elbo"]
    improved = run.stopping.update(epoch, value)
    run.history.append(history_row(epoch, run.stopping.warming_up(epoch), train_stats, val_elbo,
                                   run.restarts.learning_rate, time.perf_counter() - started))
    run.epoch = epoch
    run.last_good.capture(epoch, model, run.optimizer, run.counters(), is_best=improved)
    if run.checkpointer.due():
        write_snapshot(run.checkpointer, run.last_good, run.history)
    return value, improved


def _train_epochs(model: VAE, run: _Run, config: TrainingConfig, val_seed: int) -> None:
    """Epochs until ``max_epochs`` or early stopping; on any exception, save the last good epoch first."""
    progress = tqdm(total=config.max_epochs, initial=run.epoch, disable=not config.progress,
                    desc=f"train {model.model_type}", unit="epoch", leave=False)
    try:
        while run.epoch < config.max_epochs and not run.stopping.stopped:
            done = _train_epoch(model, run, config, val_seed)
            if done is not None and config.progress:
                progress.update(1)
                progress.set_postfix(elbo=f"{done[0]:.4g}", best=f"{run.stopping.best_value:.4g}",
                                     best_epoch=run.stopping.best_epoch, refresh=False)
    except BaseException:
        save_last_good(run.checkpointer, run.last_good, run.history)
        raise
    finally:
        progress.close()
    if run.checkpointer.saved_epoch != run.epoch:
        write_snapshot(run.checkpointer, run.last_good, run.history)


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
    val_data = _checked_validation(model, train_data, val_data)
    device = resolve_device(config.device)
    model.to(device)
    val_seed = validation_seed(config.seed)
    freeze_linear_path(model, config)
    optimizer = torch.optim.AdamW(parameter_groups(model, config), lr=config.learning_rate)
    counters, last_good, checkpointer = start_or_resume(
        model, optimizer, train_data, val_data, config, state_dir, output_dir / "training_curve.tsv",
        lambda m: evaluate_elbo(m, val_data, config.eval_batch_size, device, val_seed), linear_start)
    run = _Run(train_data, val_data, device, optimizer, EarlyStopping.from_counters(config, counters),
               RestartPolicy.from_counters(config, counters), last_good, checkpointer, counters["epoch"],
               counters.get("start_elbo", math.nan), counters["history"])
    _train_epochs(model, run, config, val_seed)
    if last_good.best_state is not None:
        model.load_state_dict(last_good.best_state)
    model.fit_metric(train_data, config.eval_batch_size)
    result = TrainingResult(
        best_epoch=run.stopping.best_epoch, best_elbo=run.stopping.best_value,
        monitored="val" if val_data is not None else "train", epochs_run=run.epoch,
        stop_reason="patience" if run.stopping.stopped else "max_epochs", restarts=run.restarts.restarts,
        history=run.history, start_elbo=run.start_elbo,
    )
    provenance = {k: v for k, v in dataclasses.asdict(result).items() if k not in ("history", "model_dir")}
    result.model_dir = save_model(model, output_dir / "model", extra={"training": provenance, "training_config": config.to_dict()})
    write_training_curves(run.history, output_dir / "training_curve.tsv", output_dir / "training_curve.png", run.stopping.best_epoch)
    return result
