"""``auto`` settings of ``train_vae``, resolved from the training (and validation) volumes before a model is built.

* ``network.latent_size: auto`` and ``<model>.observation_std: auto``: the latent size d and the
  decoder's noise sd s with the highest held-out PPCA log-likelihood over
  ``latent_size_selection.candidates`` x ``observation_std_selection.candidates``
  (:func:`choose_latent_model`). Both fix the linear model a linear-path VAE starts from, whose
  bound is that likelihood;
* ``rhvae.leapfrog_step_size: auto``: ``leapfrog_step_scale`` x s. The decoder's force on the
  momentum in the RHVAE's leapfrog scales as 1/s^2, so a step proportional to s keeps the
  displacement it causes (eps^2 x force) the same at every s (the thesis' 1e-3 is for s = 1);
* ``<model>.metric_temperature: auto``: ``metric_temperature_scale`` times the median
  nearest-neighbour distance of the PPCA training codes (:func:`choose_metric_temperature`).

With ``linear_path_components: shared`` every PPCA here (and the model's start,
:func:`linear_start`) is the fit with components shared by every label
(:func:`medaug.models.ppca.fit_shared_ppca`); with ``label`` it is the label's own fit (thesis:
one independent model per class). The resolved numbers go into the model's JSON config, so a
checkpoint never holds ``auto``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from medaug.models.ppca import (PPCAFit, fit_ppca, fit_shared_ppca, ppca_log_likelihood, posterior_means, truncated,
                                with_noise_std)

__all__ = [
    "AUTO",
    "LINEAR_PATH_COMPONENTS",
    "choose_latent_model",
    "choose_latent_size",
    "choose_metric_temperature",
    "linear_start",
    "resolve_auto_settings",
]

AUTO = "auto"
LINEAR_PATH_COMPONENTS = ("label", "shared")


def _fit(train: Tensor, others: Sequence[Tensor], latent_size: int, noise_std: float) -> PPCAFit:
    """The label's PPCA (``others`` empty) or the fit with components shared with ``others``."""
    if others:
        return fit_shared_ppca(train, others, latent_size, noise_std)
    return fit_ppca(train, latent_size, noise_std)


def choose_latent_model(train: Tensor, validation: Tensor | None, sizes: Sequence[int], stds: Sequence[float],
                        others: Sequence[Tensor] = ()) -> tuple[int, float, dict[float, dict[int, float]]]:
    """The (d, s) pair with the highest mean held-out PPCA log-likelihood, and every pair's value.

    Args:
        train: the label's training volumes, (N, C, *S).
        validation: its held-out volumes, (M, C, *S): needed (on the training set the likelihood
            only grows with d).
        sizes: candidate latent sizes; those above the fit's rank (N - 1, or N - K with K - 1
            ``others`` groups sharing the components) are dropped.
        stds: candidate noise sds s (intensity units).
        others: the other labels' training volumes, when the components are shared.
    Returns:
        (d, s, {s: {d: nats per held-out volume}}). Ties go to the smaller d, then the larger s.
    """
    if validation is None or validation.shape[0] == 0:
        raise ValueError("latent_size / observation_std: auto need a validation split (train_vae.validation_split)")
    rank = train.shape[0] + sum(o.shape[0] for o in others) - 1 - len(others)
    candidates = sorted({int(c) for c in sizes if 1 <= int(c) <= rank})
    if not candidates:
        raise ValueError(f"train_vae.latent_size_selection.candidates: none in [1, {rank}] (the rank of the "
                         f"{train.shape[0]} centred training volumes), got {list(sizes)}")
    noise_levels = sorted({float(s) for s in stds})
    if not noise_levels or noise_levels[0] <= 0:
        raise ValueError(f"train_vae.observation_std_selection.candidates must be positive, got {list(stds)}")
    fit = _fit(train, others, candidates[-1], noise_levels[0])
    scores = {s: {d: float(ppca_log_likelihood(truncated(with_noise_std(fit, s), d), validation).mean())
                  for d in candidates} for s in noise_levels}
    best_s, best_d = max(((s, d) for s in noise_levels for d in candidates),
                         key=lambda pair: (scores[pair[0]][pair[1]], -pair[1], pair[0]))
    return best_d, best_s, scores


def choose_latent_size(train: Tensor, validation: Tensor | None, settings: Mapping[str, Any],
                       noise_std: float) -> tuple[int, dict[int, float]]:
    """The latent size with the highest held-out PPCA log-likelihood at a fixed s, and every candidate's value.

    ``settings`` is ``train_vae.latent_size_selection``: ``candidates`` (sizes to compare).
    """
    size, _, scores = choose_latent_model(train, validation, settings["candidates"], [noise_std])
    return size, scores[float(noise_std)]


def choose_metric_temperature(train: Tensor, latent_size: int, noise_std: float, scale: float,
                              others: Sequence[Tensor] = ()) -> tuple[float, float]:
    """T of the RHVAE metric from the spacing of the training codes: ``scale`` x their median nearest-neighbour distance.

    The metric's kernels exp(-|z - c_i|^2 / T^2) (thesis ch. 1, eq. 1.7) must overlap for the
    sampler's target sqrt det G^-1(z) to cover the region between the codes; with T far below
    the spacing of the codes, every kernel is isolated and the target is a sum of narrow bumps on
    the training codes, so HMC decodes near-copies of training volumes. The spacing grows like
    sqrt(2 d), so the thesis' T = 1.5 (d = 10, ADNI) does not carry over to other latent sizes.
    The codes are the posterior means of the PPCA start (what a linear-path model begins from).
    Returns (T, the median nearest-neighbour distance).
    """
    codes = posterior_means(_fit(train, others, latent_size, noise_std), train).double()
    if codes.shape[0] < 2:
        raise ValueError("metric_temperature: auto needs at least 2 training volumes")
    distances = torch.cdist(codes, codes)
    distances.fill_diagonal_(math.inf)
    spacing = float(distances.min(1).values.median())
    return scale * spacing, spacing


def _shared(params: Mapping[str, Any]) -> bool:
    components = params.get("linear_path_components", "label")
    if components not in LINEAR_PATH_COMPONENTS:
        raise ValueError(f"train_vae.linear_path_components must be one of {LINEAR_PATH_COMPONENTS}, got {components!r}")
    return components == "shared"


def linear_start(params: Mapping[str, Any], train: Tensor, others: Sequence[Tensor]) -> PPCAFit | None:
    """The PPCA a linear-path model starts from when its components are shared with ``others``; else None.

    ``params`` is a resolved ``train_vae`` section (no ``auto`` left). None means the model fits
    its own label's PPCA (:meth:`medaug.models.vae.VAE.prepare_for_training`).
    """
    section = params.get(params["model"]) or {}
    if not (section.get("linear_path") and _shared(params) and others):
        return None
    return fit_shared_ppca(train, others, int(params["network"]["latent_size"]), float(section["observation_std"]))


def resolve_auto_settings(params: Mapping[str, Any], train: Tensor, validation: Tensor | None,
                          others: Sequence[Tensor] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """``train_vae`` parameters with every ``auto`` replaced by its number, and what was chosen.

    Args:
        params: the ``train_vae`` section (``model``, ``network``, the model's own section,
            ``latent_size_selection``, ``observation_std_selection``, ``leapfrog_step_scale``,
            ``metric_temperature_scale``, ``linear_path_components``).
        train: the label's training volumes, (N, C, *S).
        validation: its held-out volumes, (M, C, *S), or None (then a size or sd ``auto`` is an error).
        others: the other labels' training volumes; used when ``linear_path_components`` is ``shared``.
    Returns:
        (a resolved deep copy of ``params``, a JSON-ready record of the choices and their evidence).
    """
    resolved = copy.deepcopy(dict(params))
    chosen: dict[str, Any] = {}
    network = resolved["network"]
    section = resolved.setdefault(resolved["model"], {}) or {}
    resolved[resolved["model"]] = section
    shared = tuple(others) if _shared(resolved) else ()
    if network["latent_size"] == AUTO or section.get("observation_std") == AUTO:
        sizes = resolved["latent_size_selection"]["candidates"] if network["latent_size"] == AUTO else [network["latent_size"]]
        stds = (resolved["observation_std_selection"]["candidates"] if section.get("observation_std") == AUTO
                else [section.get("observation_std", 1.0)])
        network["latent_size"], section["observation_std"], scores = choose_latent_model(train, validation, sizes, stds, shared)
        chosen.update(latent_size=network["latent_size"], observation_std=section["observation_std"],
                      held_out_ppca_scores={f"s={s:g}": {str(d): round(v, 2) for d, v in by_size.items()}
                                            for s, by_size in scores.items()})
    noise_std = float(section.get("observation_std", 1.0))
    if section.get("leapfrog_step_size") == AUTO:
        section["leapfrog_step_size"] = float(resolved["leapfrog_step_scale"]) * noise_std
        chosen.update(leapfrog_step_size=section["leapfrog_step_size"])
    if section.get("metric_temperature") == AUTO:
        section["metric_temperature"], spacing = choose_metric_temperature(
            train, int(network["latent_size"]), noise_std, float(resolved["metric_temperature_scale"]), shared)
        chosen.update(metric_temperature=round(section["metric_temperature"], 6), code_spacing=round(spacing, 6))
    if shared:
        chosen.update(linear_path_components="shared", shared_with_volumes=int(sum(o.shape[0] for o in shared)))
    return resolved, chosen
