"""Stage ``train_vae@<label>``: one generative model for one diagnosis label, and the figures that judge it.

:func:`run` reads the label's training and validation volumes from the model-ready stack, chooses
the latent size when ``network.latent_size`` is ``auto`` (:func:`choose_latent_size`), trains
(:func:`medaug.train.trainer.train_model`) and returns the stage's metrics: the training outcome,
the reconstruction diagnostics (:mod:`medaug.models.diagnostics`) and the held-out bounds of the
untrained start, the kept model and its linear path alone (:mod:`medaug.train.ablation`).
"""

from __future__ import annotations

import logging
import math
import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from medaug.io import write_json
from medaug.models.diagnostics import reconstruction_diagnostics
from medaug.models.registry import build_model
from medaug.runtime import set_threads
from medaug.train.ablation import networks_zeroed_elbo
from medaug.train.autoconfig import resolve_auto_settings
from medaug.train.config import TrainingConfig
from medaug.train.trainer import train_model, validation_seed
from medaug.volumes import load_label_volumes

__all__ = ["run"]

logger = logging.getLogger(__name__)


def run(params: Mapping[str, Any], label: str) -> dict[str, Any]:
    """Train ``label``'s model from the ``train_vae`` parameters; write its folder and metrics; return the metrics."""
    set_threads(params["threads"])
    splits_dir = Path(params["splits_dir"])
    train_table = splits_dir / f"{params['train_split']}.tsv"
    train = load_label_volumes(params["stack"], train_table, label)[0]
    if train.shape[0] == 0:
        raise ValueError(f"{train_table}: no {label} volumes")
    val = None
    if params["validation_split"]:
        val = load_label_volumes(params["stack"], splits_dir / f"{params['validation_split']}.tsv", label)[0]
    logger.info("%s: %d training and %d validation volumes of shape %s", label, train.shape[0],
                0 if val is None else val.shape[0], tuple(train.shape[2:]))

    params, chosen = resolve_auto_settings(params, train, val)
    for key, value in chosen.items():
        logger.info("%s: %s = %s", label, key, value)
    config = TrainingConfig.from_dict(params["training"])
    torch.manual_seed(config.seed)
    model = build_model(params["model"], params, tuple(train.shape[2:]))
    result = train_model(model, train, val, config, Path(params["out_dir"]) / label,
                         state_dir=Path(params["state_dir"]) / label)
    metrics = {
        "label": label,
        "model": model.model_type,
        "latent_size": model.latent_size,
        "chosen_settings": chosen,
        "n_train": int(train.shape[0]),
        "n_validation": 0 if val is None else int(val.shape[0]),
        "best_epoch": result.best_epoch,
        "best_elbo": result.best_elbo,
        "monitored": result.monitored,
        "epochs_run": result.epochs_run,
        "stop_reason": result.stop_reason,
        "restarts": result.restarts,
        "median_seconds_per_epoch": round(statistics.median(row["seconds"] for row in result.history), 3) if result.history else None,
        "validation_bounds": _validation_bounds(model, val, config, result.best_elbo, result.start_elbo),
        # does the model generate? spread of its reconstructions vs real and rank-d PCA (medaug.models.diagnostics)
        "diagnostics": reconstruction_diagnostics(model, train, val, batch_size=config.eval_batch_size),
    }
    write_json(metrics, Path(params["metrics_dir"]) / f"{label}.json")
    logger.info("%s: best %s ELBO %.2f at epoch %d (%s)", label, result.monitored, result.best_elbo,
                result.best_epoch, result.stop_reason)
    return metrics


def _validation_bounds(model, val: Tensor | None, config: TrainingConfig, kept: float, start: float) -> dict[str, Any] | None:
    """Held-out VAE bounds (nats per volume) of the start, the kept model and its linear path alone."""
    if val is None:
        return None
    zeroed = math.nan
    if getattr(model.config, "linear_path", False):
        zeroed = networks_zeroed_elbo(model, val, config.eval_batch_size, validation_seed(config.seed))
    bounds = {"start": start, "kept": kept, "networks_zeroed": zeroed}
    bounds = {k: None if not math.isfinite(v) else round(float(v), 2) for k, v in bounds.items()}
    bounds["kept_beats_start"] = None if bounds["start"] is None else bool(kept > start)
    bounds["kept_beats_networks_zeroed"] = None if bounds["networks_zeroed"] is None else bool(kept > zeroed)
    return bounds
