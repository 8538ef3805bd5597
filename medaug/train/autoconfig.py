"""``auto`` settings of ``train_vae``, resolved from the training (and validation) volumes before a model is built.

* ``network.latent_size: auto``: the candidate of ``latent_size_selection.candidates`` with the
  highest held-out PPCA log-likelihood (:func:`choose_latent_size`);
* ``<model>.metric_temperature: auto``: ``metric_temperature_scale`` times the median
  nearest-neighbour distance of the PPCA training codes (:func:`choose_metric_temperature`).

The resolved numbers go into the model's JSON config, so a checkpoint never holds ``auto``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from medaug.models.ppca import fit_ppca, held_out_latent_sizes, posterior_means

__all__ = ["AUTO", "choose_latent_size", "choose_metric_temperature", "resolve_auto_settings"]

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


def _observation_std(params: Mapping[str, Any]) -> float:
    return float((params.get(params["model"]) or {}).get("observation_std", 1.0))


def resolve_auto_settings(params: Mapping[str, Any], train: Tensor, validation: Tensor | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``train_vae`` parameters with every ``auto`` replaced by its number, and what was chosen.

    Args:
        params: the ``train_vae`` section (``model``, ``network``, the model's own section,
            ``latent_size_selection``, ``metric_temperature_scale``).
        train: the training volumes, (N, C, *S).
        validation: held-out volumes, (M, C, *S), or None (then ``latent_size: auto`` is an error).
    Returns:
        (a resolved deep copy of ``params``, a JSON-ready record of the choices and their evidence).
    """
    resolved = copy.deepcopy(dict(params))
    chosen: dict[str, Any] = {}
    network = resolved["network"]
    if network["latent_size"] == AUTO:
        network["latent_size"], scores = choose_latent_size(train, validation, resolved["latent_size_selection"],
                                                            _observation_std(resolved))
        chosen.update(latent_size=network["latent_size"],
                      latent_size_scores={str(d): round(v, 2) for d, v in scores.items()})
    section = resolved.get(resolved["model"]) or {}
    if section.get("metric_temperature") == AUTO:
        section["metric_temperature"], spacing = choose_metric_temperature(
            train, int(network["latent_size"]), _observation_std(resolved), float(resolved["metric_temperature_scale"]))
        chosen.update(metric_temperature=round(section["metric_temperature"], 6), code_spacing=round(spacing, 6))
    return resolved, chosen
