"""The 2D mode's quick check: train on slices of one label, sample, decode, and measure diversity.

Thesis ch. 2 and 3 develop the samplers on 2D images; this runs the 3D pipeline's code on slices
of the model-ready volumes, so that a change to a model, the trainer or a sampler can be judged in
seconds on a CPU:

1. :func:`~medaug.slicecheck.slices.extract_slices` cuts one plane out of every volume;
2. the model named by ``train_vae.model`` is built with ``spatial_dims = 2`` from the
   ``train_vae.network`` and ``train_vae.<model>`` sections and trained by
   :func:`~medaug.train.trainer.train_model` with ``train_vae.training``;
3. ``n`` codes are drawn with the configured sampler (:mod:`medaug.sampling.factory`,
   ``sample.sampler`` and ``sample.samplers``) and decoded as the ``sample`` stage decodes them
   (:func:`~medaug.models.decode.decoded_batches`: clipped to [0, 1]);
4. written to ``out_dir``: ``montage.png`` (rows: real training slices, their reconstructions,
   synthetic slices) and ``diversity.json``, and in ``out_dir/train/`` what :func:`train_model`
   writes (``model/``, ``training_curve.tsv/.png``, ``training_state/``: a rerun with the same
   settings and data resumes, or finds training done).

Diversity figures (``diversity.json``), all in intensity units of the model-ready volumes ([0, 1]):

- ``mean_pairwise_rms``: mean over all pairs (i < j) of sqrt(mean over pixels of (a_i - a_j)^2)
  (:func:`medaug.audit.diversity.pairwise_rms`) within four sets: ``real`` (the training slices),
  ``pca`` (their rank-d PCA reconstructions, d = the latent size: what a d-dimensional linear model
  keeps; :func:`medaug.audit.reference.pca_reconstruction`), ``reconstruction`` (the model's
  reconstructions, posterior means decoded) and ``synthetic`` (decoded samples). A generator that
  collapses has a ``synthetic`` value far below ``pca``; one that reproduces its reconstructions
  spreads like ``reconstruction``.
- ``reconstruction_rmse``: sqrt(mean over slices and pixels of (x - x_hat)^2) of the training
  slices, ``pca`` vs ``model``: a model whose reconstructions are worse than rank-d PCA's has not
  learnt what its latent space could hold.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from medaug.audit.diversity import pairwise_rms, sample_pairs
from medaug.audit.reference import pca_reconstruction
from medaug.io import write_json
from medaug.runtime import derived_seed
from medaug.models.registry import build_model
from medaug.models.metric.geometric import GeometricMetric
from medaug.models.metric.rhvae import RHVAEMetric
from medaug.models.vae import VAE, encode_dataset
from medaug.sampling.factory import build_latent_sampler, draw_latents
from medaug.models.decode import decoded_batches
from medaug.figures import slice_rows_montage
from medaug.slicecheck.slices import AXIS_NAMES, extract_slices
from medaug.train.autoconfig import resolve_auto_settings
from medaug.train.trainer import TrainingConfig, train_model

__all__ = ["SliceCheckResult", "build_slice_model", "choose_sampler", "mean_pairwise_rms", "run_slice_check"]

logger = logging.getLogger(__name__)

MONTAGE_NAME = "montage.png"
SUMMARY_NAME = "diversity.json"

#: The sampler a model of each family is meant for (thesis ch. 1 / ch. 3), or the prior for a plain VAE.
_OWN_SAMPLER = {"rhvae": "rhvae_hmc", "geometric_vae": "geometric_hmc", "vae": "prior"}
_METRIC_SAMPLERS = {"rhvae_hmc": RHVAEMetric, "random_walk": RHVAEMetric, "geometric_hmc": GeometricMetric}


@dataclass(frozen=True)
class SliceCheckResult:
    """What :func:`run_slice_check` wrote and measured.

    Attributes:
        montage: the PNG (rows: real, reconstructions, synthetic).
        summary: the JSON holding ``figures``.
        figures: the diversity figures and the run's settings (see the module docstring).
    """

    montage: Path
    summary: Path
    figures: dict[str, Any]


def build_slice_model(model_name: str, train_params: Mapping[str, Any], slice_shape: tuple[int, int]) -> VAE:
    """An untrained ``model_name`` for (1, H', W') slices, from ``train_vae``-shaped ``train_params``.

    Uses ``train_params["network"]`` with ``spatial_dims = 2`` and ``spatial_shape = slice_shape``,
    and the model's own section ``train_params[model_name]`` (absent: the config defaults).
    """
    return build_model(model_name, train_params, slice_shape)


def choose_sampler(configured: str, model: VAE) -> str:
    """``configured`` if it can sample from ``model``, else the model family's own sampler.

    The Riemannian samplers need the metric of their family (an RHVAE's for ``rhvae_hmc`` and
    ``random_walk``, a geometry-aware VAE's for ``geometric_hmc``); a plain VAE falls back to the prior.
    """
    needed = _METRIC_SAMPLERS.get(configured)
    if needed is None or isinstance(getattr(model, "metric", None), needed):
        return configured
    own = _OWN_SAMPLER[model.model_type]
    logger.info("sampler %s cannot sample from a %s; using %s", configured, model.model_type, own)
    return own


def mean_pairwise_rms(images: np.ndarray, seed: int = 0) -> float:
    """Mean over all pairs (i < j) of the RMS difference of ``images`` (n, ...), n >= 2 (intensity units)."""
    n = len(images)
    if n < 2:
        raise ValueError(f"a mean pairwise distance needs at least 2 images, got {n}")
    pairs = sample_pairs(n, n * (n - 1) // 2, seed)
    return float(pairwise_rms(np.asarray(images, dtype=np.float64), pairs).mean())


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)))


def _decode(model: VAE, latents: Tensor, batch_size: int, device) -> np.ndarray:
    """(n, d) codes -> (n, H', W') float32 images clipped to [0, 1], as the sample stage decodes."""
    return np.concatenate(list(decoded_batches(model, latents, batch_size, device)))


def run_slice_check(volumes: Tensor, label: str, train_params: Mapping[str, Any], sample_params: Mapping[str, Any],
                    out_dir: str | Path, *, model_name: str | None = None, sampler: str | None = None, axis: int = 2,
                    index: int | None = None, val_volumes: Tensor | None = None, epochs: int | None = None,
                    n_samples: int | None = None, montage_columns: int = 8) -> SliceCheckResult:
    """Train a 2D model on slices of one label's volumes, sample from it, and write the montage and
    figures; return the :class:`SliceCheckResult`.

    Args:
        volumes: training volumes of ``label``, (N, 1, D, H, W), N >= 2, intensities in [0, 1].
        label: the diagnosis label (names the sampling seed and the figure).
        train_params: shaped like params.yaml's ``train_vae`` (``model``, ``network``, one section
            per model, ``training``).
        sample_params: shaped like params.yaml's ``sample`` (``sampler``, ``samplers``, ``n``,
            ``seed``, ``decode_batch_size``, ``sampler_threads``).
        out_dir: receives ``montage.png``, ``diversity.json`` and, in ``train/``, the trainer's outputs.
        model_name: overrides ``train_params["model"]``.
        sampler: overrides ``sample_params["sampler"]``; None takes it if it fits the model, else
            the model family's own sampler (:func:`choose_sampler`).
        axis, index: the slice (:func:`~medaug.slicecheck.slices.extract_slices`).
        val_volumes: validation volumes of ``label`` for early stopping, or None.
        epochs: overrides ``training.max_epochs``.
        n_samples: overrides ``sample_params["n"]``; at least 2.
        montage_columns: images per montage row.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    train, val = _training_slices(volumes, val_volumes, axis, index, label)
    plane = index if index is not None else volumes.shape[2 + axis] // 2
    model_name = model_name or train_params["model"]
    n = int(n_samples if n_samples is not None else sample_params["n"])
    if n < 2:
        raise ValueError(f"need at least 2 synthetic samples to measure their diversity, got {n}")
    batch_size = int(sample_params.get("decode_batch_size", 25))
    config = _training_config(train_params["training"], epochs)
    train_params, _ = resolve_auto_settings({**train_params, "model": model_name}, train, val)
    torch.manual_seed(config.seed)
    model = build_slice_model(model_name, train_params, tuple(train.shape[2:]))
    result = train_model(model, train, val, config, out_dir / "train")
    training_seconds = time.perf_counter() - started
    sampler_name = sampler or choose_sampler(str(sample_params["sampler"]), model)
    draw, synthetic, reconstructions = _sample(model, train, label, sampler_name, sample_params, n, batch_size)
    real = train[:, 0].numpy().astype(np.float64)
    figures: dict[str, Any] = {
        "label": label, "model": model.model_type, "sampler": sampler_name, "axis": axis, "plane": AXIS_NAMES[axis],
        "index": int(plane) % volumes.shape[2 + axis], "slice_shape": list(train.shape[2:]),
        "n_train": int(train.shape[0]), "n_validation": 0 if val is None else int(val.shape[0]), "n_samples": n,
        **_diversity_figures(real, reconstructions, synthetic, model.latent_size),
        "acceptance_rate": draw.mean_acceptance,
        "training": {"epochs_run": result.epochs_run, "best_epoch": result.best_epoch, "best_elbo": result.best_elbo,
                     "monitored": result.monitored, "stop_reason": result.stop_reason},
        "seconds": {"training": training_seconds, "total": time.perf_counter() - started},
    }
    bad = [name for name, value in _numbers(figures) if not math.isfinite(value)]
    if bad:
        logger.warning("non-finite diversity figures: %s", bad)
    rows = {"real": real, "reconstruction": reconstructions, "synthetic": synthetic}
    return _write(out_dir, figures, rows, montage_columns)


def _write(out_dir: Path, figures: dict[str, Any], rows: Mapping[str, np.ndarray], montage_columns: int) -> SliceCheckResult:
    """The montage of ``rows`` and ``diversity.json`` (``figures``) in ``out_dir``."""
    montage = out_dir / MONTAGE_NAME
    title = f"{figures['label']}: {figures['model']}, {figures['sampler']}, {figures['plane']} slice {figures['index']}"
    slice_rows_montage(rows, montage, title=title, n_columns=montage_columns)
    summary = out_dir / SUMMARY_NAME
    write_json(figures, summary)
    return SliceCheckResult(montage=montage, summary=summary, figures=figures)


def _training_slices(volumes: Tensor, val_volumes: Tensor | None, axis: int, index: int | None,
                     label: str) -> tuple[Tensor, Tensor | None]:
    """The training slices (at least 2) and the validation slices (None without validation volumes)."""
    train = extract_slices(volumes, axis, index)
    if train.shape[0] < 2:
        raise ValueError(f"need at least 2 training volumes of {label}, got {train.shape[0]}")
    return train, extract_slices(val_volumes, axis, index) if val_volumes is not None and val_volumes.shape[0] else None


def _training_config(training: Mapping[str, Any], epochs: int | None) -> TrainingConfig:
    """``train_vae.training`` with ``max_epochs`` overridden by ``epochs``, keeping the warm-up's share."""
    training = dict(training)
    if epochs is not None:
        share = int(training.get("warmup_epochs", 0)) / int(training["max_epochs"])
        training["max_epochs"] = int(epochs)
        training["warmup_epochs"] = min(int(round(share * int(epochs))), int(epochs) - 1)
    return TrainingConfig.from_dict(training)


def _sample(model: VAE, train: Tensor, label: str, sampler_name: str, sample_params: Mapping[str, Any], n: int,
            batch_size: int):
    """Draw ``n`` codes with ``sampler_name`` (seeded from the label) and decode them and the training
    codes: -> (draw, synthetic (n, H', W'), reconstructions (N, H', W'))."""
    device = next(model.parameters()).device
    means = encode_dataset(model, train, batch_size)[0]
    options = (sample_params.get("samplers") or {}).get(sampler_name) or {}
    latent_sampler = build_latent_sampler(sampler_name, model, options, means if sampler_name == "gmm" else None,
                                          int(sample_params.get("sampler_threads", 1)))
    seed = derived_seed(int(sample_params["seed"]), label, sampler_name, "slices")
    draw = draw_latents(latent_sampler, n, torch.Generator().manual_seed(seed))
    return draw, _decode(model, draw.latents, batch_size, device), _decode(model, means, batch_size, device)


def _diversity_figures(real: np.ndarray, reconstructions: np.ndarray, synthetic: np.ndarray,
                       latent_size: int) -> dict[str, Any]:
    """Mean pairwise RMS of the four sets and the reconstruction RMSE of the model and of rank-d PCA."""
    pca = pca_reconstruction(real, latent_size)
    return {
        "latent_size": latent_size,
        "pca_rank": pca.rank,
        "pca_explained_variance": pca.explained_variance,
        "mean_pairwise_rms": {
            "real": mean_pairwise_rms(real),
            "pca": mean_pairwise_rms(pca.volumes),
            "reconstruction": mean_pairwise_rms(reconstructions),
            "synthetic": mean_pairwise_rms(synthetic),
        },
        "reconstruction_rmse": {"pca": _rmse(pca.volumes, real), "model": _rmse(reconstructions, real)},
    }


def _numbers(tree: Any, prefix: str = ""):
    """(dotted name, float) for every number in a nested dict."""
    if isinstance(tree, Mapping):
        for key, value in tree.items():
            yield from _numbers(value, f"{prefix}{key}.")
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool):
        yield prefix.rstrip("."), float(tree)
