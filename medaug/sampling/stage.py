"""Stage ``sample@<label>``: draw latent codes of one label from its trained model, decode them into a
synthetic cohort (:mod:`medaug.sampling.synthesize`) with a montage, and return the stage's metrics.

Inputs (the ``sample`` parameter section): the model ``<model>`` (``{label}`` filled in:
model.safetensors + model.json from stage ``train_vae``), the real model-ready stack ``<stack>``
(shape, affine) and the training split ``<train_split>`` (the label's real volumes: the montage, and
the latent means the ``gmm`` sampler is fitted on).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medaug.io import atomic_directory, write_json, write_tsv
from medaug.models.checkpoint import CONFIG_NAME, WEIGHTS_NAME, CheckpointError, load_model
from medaug.models.vae import VAE, encode_dataset
from medaug.preprocess.model_ready import load_stack
from medaug.runtime import derived_seed, resolve_device, set_threads
from medaug.sampling.factory import MCMC_SAMPLERS, SAMPLER_NAMES, LatentDraw, SamplerError, build_latent_sampler, draw_latents
from medaug.figures import real_vs_synthetic_montage
from medaug.sampling.synthesize import file_sha256, params_digest, write_synthetic_volumes
from medaug.synthetic import (
    LATENTS_NAME,
    MONTAGE_NAME,
    SAMPLES_STACK,
    SAMPLES_TABLE,
    montage_volumes,
    synthetic_participant_id,
    synthetic_table,
)
from medaug.volumes import load_label_volumes

__all__ = ["check_params", "output_locations", "run"]

logger = logging.getLogger(__name__)

def check_params(params: Mapping[str, Any], sampler: str) -> None:
    """Raise ``ValueError`` for a bad ``sample`` section before anything is read or written."""
    if sampler not in SAMPLER_NAMES:
        raise SamplerError(f"sample.sampler: unknown sampler {sampler!r} (known: {list(SAMPLER_NAMES)})")
    for key in ("n", "decode_batch_size"):
        value = params.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"sample.{key} must be a positive integer, got {value!r}")
    if montage_volumes(params) < 0:
        raise ValueError(f"sample.montage_volumes must be >= 0, got {params['montage_volumes']!r}")
    options = (params.get("samplers") or {}).get(sampler, {}) or {}
    if not isinstance(options, dict):
        raise ValueError(f"sample.samplers.{sampler} must be a mapping of options, got {options!r}")


def output_locations(params: Mapping[str, Any], label: str, sampler_override: str | None) -> tuple[Path, Path]:
    """(cohort directory, metrics file) of one label: ``<out_dir>/<label>/`` and
    ``<metrics_dir>/sample_<label>.json``, or with a sampler override ``<out_dir>/by_sampler/<NAME>/<label>/``
    and ``<metrics_dir>/sample_<NAME>_<label>.json``."""
    out_dir, metrics_dir = Path(params["out_dir"]), Path(params["metrics_dir"])
    if sampler_override is None:
        return out_dir / label, metrics_dir / f"sample_{label}.json"
    return out_dir / "by_sampler" / sampler_override / label, metrics_dir / f"sample_{sampler_override}_{label}.json"


def _trained_model(params: Mapping[str, Any], label: str) -> tuple[VAE, Path, np.ndarray]:
    """(the label's model on CPU, its directory, the model-ready grid's affine (4, 4)); checks that the
    model makes volumes of the stack's shape."""
    model_dir = Path(str(params["model"]).format(label=label))
    missing = [name for name in (WEIGHTS_NAME, CONFIG_NAME) if not (model_dir / name).is_file()]
    if missing:
        raise CheckpointError(f"{model_dir}: no trained model ({', '.join(missing)} missing); run stage train_vae first")
    model = load_model(model_dir, "cpu")
    _, _, metadata = load_stack(params["stack"])
    shape = tuple(int(s) for s in metadata["shape"])
    network = model.config.network
    if tuple(network.spatial_shape) != shape or network.in_channels != 1:
        raise CheckpointError(f"{model_dir}: the model makes {network.in_channels}-channel volumes of shape "
                              f"{tuple(network.spatial_shape)}, the model-ready stack {params['stack']} holds {shape}")
    if metadata.get("affine") is None:
        raise ValueError(f"{params['stack']}.json: no affine (empty stack?)")
    return model, model_dir, np.asarray(metadata["affine"], dtype=float)


def _draw(params: Mapping[str, Any], model: VAE, real: torch.Tensor, label: str, sampler_name: str,
          seed: int) -> tuple[LatentDraw, float]:
    """(n latent codes of the configured sampler, seconds it took)."""
    training_means = None
    if sampler_name == "gmm":
        if real.shape[0] == 0:
            raise ValueError(f"{params['train_split']}: no {label} volume to fit the gmm sampler on")
        training_means = encode_dataset(model, real, int(params["decode_batch_size"]))[0]
    options = (params.get("samplers") or {}).get(sampler_name, {}) or {}
    sampler = build_latent_sampler(sampler_name, model, options, training_means, int(params.get("sampler_threads", 1)),
                                   int(params.get("sampler_workers", 1)))
    started = time.perf_counter()
    draw = draw_latents(sampler, int(params["n"]), torch.Generator().manual_seed(seed))
    seconds = time.perf_counter() - started
    if draw.mean_acceptance is not None:
        logger.info("%s: %s acceptance rate %.3f over %d chains (%.1f s)", label, sampler_name, draw.mean_acceptance,
                    int(params["n"]), seconds)
        if draw.mean_acceptance < float(params.get("warn_acceptance_below", 0.0)):
            logger.warning("%s: acceptance rate %.3f is below %s: the chains barely leave their starting centroids "
                           "(lower the step size or proposal_std in sample.samplers.%s)", label, draw.mean_acceptance,
                           params["warn_acceptance_below"], sampler_name)
    return draw, seconds


def run(params: Mapping[str, Any], label: str, sampler: str | None = None) -> dict[str, Any]:
    """Write the synthetic cohort of ``label`` (atomically) and its metrics file; return the metrics.

    The cohort directory holds ``samples.tsv``, ``samples.npy`` (float32 (N, D, H, W) in [0, 1]),
    ``<participant_id>.nii.gz`` (unless ``write_nifti`` is false), ``montage.png`` and, when
    ``write_latents`` is true (absent: false), ``latents.npy`` (float32 (N, latent size), the codes
    that were decoded, row i for participant i); the metrics are the acceptance rate, seconds and
    volumes per second.
    """
    sampler_name = sampler or params["sampler"]
    check_params(params, sampler_name)
    n = int(params["n"])
    out_dir, metrics_path = output_locations(params, label, sampler)
    set_threads(int(params.get("threads", 1)))
    model, model_dir, affine = _trained_model(params, label)
    model_sha256 = file_sha256(model_dir / WEIGHTS_NAME)
    real, _ = load_label_volumes(params["stack"], params["train_split"], label)
    seed = derived_seed(int(params["seed"]), label, sampler_name)
    # left out of the hash: write_latents adds a file, sampler_workers spreads chain blocks; no sample changes
    hashed = {k: v for k, v in params.items() if k not in ("write_latents", "sampler_workers")}
    params_hash = params_digest({**hashed, "sampler": sampler_name, "label": label})
    draw, sampling_seconds = _draw(params, model, real, label, sampler_name, seed)

    device = resolve_device(str(params.get("device", "auto")))
    model.to(device)
    write_nifti = bool(params.get("write_nifti", True))
    ids = [synthetic_participant_id(label, i) for i in range(n)]
    n_montage = min(montage_volumes(params), n)
    with atomic_directory(out_dir) as tmp:
        decoding_seconds = write_synthetic_volumes(model, draw.latents, tmp, ids, affine, int(params["decode_batch_size"]),
                                                   device, write_nifti, bool(params.get("progress", False)))
        table = synthetic_table(label, n, model.model_type, sampler_name, model_sha256, seed, params_hash,
                                draw.acceptance_rate, with_files=write_nifti)
        write_tsv(table, tmp / SAMPLES_TABLE)
        if params.get("write_latents", False):
            np.save(tmp / LATENTS_NAME, draw.latents.detach().cpu().numpy().astype(np.float32))
        if n_montage > 0:
            synthetic = np.load(tmp / SAMPLES_STACK, mmap_mode="r")[:n_montage]
            real_vs_synthetic_montage(list(real[:n_montage, 0].numpy()), list(synthetic), affine, tmp / MONTAGE_NAME,
                                      title=f"{label}: real (training split) vs synthetic ({model.model_type}, {sampler_name})")
            del synthetic
    seconds = sampling_seconds + decoding_seconds
    metrics = {
        "label": label,
        "model": model.model_type,
        "sampler": sampler_name,
        "n": n,
        "acceptance_rate": round(draw.mean_acceptance, 6) if sampler_name in MCMC_SAMPLERS else None,
        "sampling_seconds": round(sampling_seconds, 3),
        "decoding_seconds": round(decoding_seconds, 3),
        "seconds": round(seconds, 3),
        "volumes_per_second": round(n / seconds, 3) if seconds > 0 else None,
        "decoded_volumes_per_second": round(n / decoding_seconds, 3) if decoding_seconds > 0 else None,
        "seed": seed,
        "params_hash": params_hash,
        "model_sha256": model_sha256,
    }
    write_json(metrics, metrics_path)
    logger.info("%s: %d synthetic volumes (%s) in %s, %.1f s", label, n, sampler_name, out_dir, seconds)
    return metrics
