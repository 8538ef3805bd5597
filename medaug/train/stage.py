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
from medaug.models.ppca import fit_ppca, held_out_latent_sizes, posterior_means
from medaug.models.registry import build_model
from medaug.runtime import set_threads
from medaug.train.ablation import networks_zeroed_elbo
from medaug.train.config import TrainingConfig
from medaug.train.trainer import train_model, validation_seed
from medaug.volumes import load_label_volumes

__all__ = ["choose_latent_size", "choose_metric_temperature", "run"]

logger = logging.getLogger(__name__)

AUTO = "auto"


def choose_latent_size(train: Tensor, validation: Tensor | None, settings: Mapping[str, Any],
                       noise_std: float) -> tuple[int, dict[int, float]]:
    """The latent size with the highest held-out PPCA log-likelihood, and every candidate's value.

    ``settings`` is ``train_vae.latent_size_selection``: ``candidates`` (sizes to compare).
    Candidates above N - 1 (the rank of N centred training volumes) are dropped. Needs validation
    volumes: without held-out data the likelihood only grows with d.
    """
    if validation is None or validation.shape[0] == 0:
        raise ValueError("network.latent_size: auto needs a validation split (train_vae.validation_split)")
    rank = train.shape[0] - 1
    candidates = [int(c) for c in settings["candidates"] if 1 <= int(c) <= rank]
    if not candidates:
        raise ValueError(f"train_vae.latent_size_selection.candidates: none in [1, {rank}] "
                         f"(N - 1 for {train.shape[0]} training volumes), got {settings['candidates']}")
    scores = held_out_latent_sizes(train, validation, candidates, noise_std)
    best = max(scores, key=lambda d: (scores[d], -d))
    return best, scores


def choose_metric_temperature(train: Tensor, latent_size: int, noise_std: float, scale: float) -> tuple[float, float]:
    """T of the RHVAE metric from the spacing of the training codes: ``scale`` x their median nearest-neighbour distance.

    The metric's kernels exp(-|z - c_i|^2 / T^2) (thesis ch. 1, eq. 1.7) must overlap for the
    sampler's target sqrt det G^-1(z) to cover the region between the codes; with T far below
    the spacing of the codes, every kernel is isolated and the target is a sum of narrow bumps on
    the training codes, so HMC decodes near-copies of training volumes. The spacing grows like
    sqrt(2 d), so the thesis' T = 1.5 (d = 10, ADNI) does not carry over to other latent sizes.
    The codes are the posterior means of the PPCA start (what a linear-path model begins from).
    Returns (T, the median nearest-neighbour distance).
    """
    codes = posterior_means(fit_ppca(train, latent_size, noise_std), train).double()
    if codes.shape[0] < 2:
        raise ValueError("metric_temperature: auto needs at least 2 training volumes")
    distances = torch.cdist(codes, codes)
    distances.fill_diagonal_(math.inf)
    spacing = float(distances.min(1).values.median())
    return scale * spacing, spacing


def _observation_std(params: Mapping[str, Any]) -> float:
    return float((params.get(params["model"]) or {}).get("observation_std", 1.0))


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

    network = dict(params["network"])
    size_scores: dict[int, float] = {}
    if network["latent_size"] == AUTO:
        network["latent_size"], size_scores = choose_latent_size(train, val, params["latent_size_selection"],
                                                                 _observation_std(params))
        logger.info("%s: latent size %d (held-out PPCA log-likelihood)", label, network["latent_size"])
    model_section = dict(params.get(params["model"]) or {})
    spacing = None
    if model_section.get("metric_temperature") == AUTO:
        model_section["metric_temperature"], spacing = choose_metric_temperature(
            train, network["latent_size"], _observation_std(params), float(params["metric_temperature_scale"]))
        logger.info("%s: metric temperature %.3f (code spacing %.3f)", label, model_section["metric_temperature"], spacing)
    config = TrainingConfig.from_dict(params["training"])
    torch.manual_seed(config.seed)
    model = build_model(params["model"], {**params, "network": network, params["model"]: model_section},
                        tuple(train.shape[2:]))
    result = train_model(model, train, val, config, Path(params["out_dir"]) / label,
                         state_dir=Path(params["state_dir"]) / label)
    metrics = {
        "label": label,
        "model": model.model_type,
        "latent_size": model.latent_size,
        "latent_size_scores": {str(d): round(v, 2) for d, v in size_scores.items()},
        "metric_temperature": model_section.get("metric_temperature"),
        "code_spacing": None if spacing is None else round(spacing, 4),
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
