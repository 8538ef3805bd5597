"""Stage ``train_vae@<label>``: one generative model for one diagnosis label, and the figures that judge it.

:func:`run` reads the label's training and validation volumes from the model-ready stack, chooses
the ``auto`` settings (:mod:`medaug.train.autoconfig`), trains
(:func:`medaug.train.trainer.train_model`) and returns the stage's metrics: the training outcome,
the reconstruction diagnostics (:mod:`medaug.models.diagnostics`) and the held-out bounds of the
untrained start, the kept model, its linear path alone (:mod:`medaug.train.ablation`) and the
label's own PPCA at the same d and s (the thesis' start: one independent model per class).
With ``linear_path_components: shared`` the other labels' training volumes are read too: the
start's components are shared with them (:func:`medaug.models.ppca.fit_shared_ppca`).
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
from medaug.models.ppca import fit_ppca, ppca_log_likelihood
from medaug.models.registry import build_model
from medaug.runtime import set_threads
from medaug.train.ablation import networks_zeroed_elbo
from medaug.train.autoconfig import linear_start, resolve_auto_settings
from medaug.train.config import TrainingConfig
from medaug.train.trainer import train_model, validation_seed
from medaug.volumes import load_label_volumes, split_labels, training_and_validation_volumes

__all__ = ["run"]

logger = logging.getLogger(__name__)


def run(params: Mapping[str, Any], label: str) -> dict[str, Any]:
    """Train ``label``'s model from the ``train_vae`` parameters; write its folder and metrics; return the metrics."""
    set_threads(params["threads"])
    train, val = training_and_validation_volumes(params, label)
    others = _other_labels_volumes(params, Path(params["splits_dir"]) / f"{params['train_split']}.tsv", label)
    logger.info("%s: %d training and %d validation volumes of shape %s", label, train.shape[0],
                0 if val is None else val.shape[0], tuple(train.shape[2:]))

    params, chosen = resolve_auto_settings(params, train, val, others)
    for key, value in chosen.items():
        if key != "held_out_ppca_scores":
            logger.info("%s: %s = %s", label, key, value)
    config = TrainingConfig.from_dict(params["training"])
    torch.manual_seed(config.seed)
    model = build_model(params["model"], params, tuple(train.shape[2:]))
    start = linear_start(params, train, others)
    result = train_model(model, train, val, config, Path(params["out_dir"]) / label,
                         state_dir=Path(params["state_dir"]) / label, linear_start=start)
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
        "validation_bounds": _validation_bounds(model, val, config, result.best_elbo, result.start_elbo,
                                                _label_ppca_bound(model, train, val)),
        # does the model generate? spread of its reconstructions vs real and rank-d PCA (medaug.models.diagnostics)
        "diagnostics": reconstruction_diagnostics(model, train, val, batch_size=config.eval_batch_size),
    }
    write_json(metrics, Path(params["metrics_dir"]) / f"{label}.json")
    logger.info("%s: best %s ELBO %.2f at epoch %d (%s)", label, result.monitored, result.best_elbo,
                result.best_epoch, result.stop_reason)
    return metrics


def _other_labels_volumes(params: Mapping[str, Any], train_table: Path, label: str) -> tuple[Tensor, ...]:
    """The training volumes of every other label of the split, when the linear path shares their components."""
    if params.get("linear_path_components", "label") != "shared":
        return ()
    labels = [other for other in split_labels(train_table) if other != label]
    volumes = [load_label_volumes(params["stack"], train_table, other)[0] for other in labels]
    return tuple(v for v in volumes if v.shape[0] > 0)


def _label_ppca_bound(model, train: Tensor, val: Tensor | None) -> float:
    """Held-out log-likelihood of the label's own PPCA at the model's d and s (nats per volume; nan without one)."""
    if val is None or getattr(model.config, "likelihood", "gaussian") != "gaussian":
        return math.nan
    fit = fit_ppca(train, model.latent_size, float(model.config.observation_std))
    return float(ppca_log_likelihood(fit, val).mean())


def _validation_bounds(model, val: Tensor | None, config: TrainingConfig, kept: float, start: float,
                       label_ppca: float) -> dict[str, Any] | None:
    """Held-out bounds (nats per volume) of the start, the kept model, its linear path alone and the label's PPCA."""
    if val is None:
        return None
    zeroed = math.nan
    if getattr(model.config, "linear_path", False):
        zeroed = networks_zeroed_elbo(model, val, config.eval_batch_size, validation_seed(config.seed))
    bounds = {"start": start, "kept": kept, "networks_zeroed": zeroed, "label_ppca": label_ppca}
    bounds = {k: None if not math.isfinite(v) else round(float(v), 2) for k, v in bounds.items()}
    bounds["kept_beats_start"] = None if bounds["start"] is None else bool(kept > start)
    bounds["kept_beats_networks_zeroed"] = None if bounds["networks_zeroed"] is None else bool(kept > zeroed)
    bounds["kept_beats_label_ppca"] = None if bounds["label_ppca"] is None else bool(kept > label_ppca)
    return bounds
