"""Diversity reference: rank-d PCA reconstructions of the real training volumes of one label.

A generator with a d-dimensional latent space cannot be asked to be as varied as the raw real
volumes, which also differ by acquisition noise. The reference it can be held to is what a
d-dimensional *linear* model of the same training volumes keeps: project every training volume
onto the first d principal components of its label and add the mean back. Those reconstructions
are as uniform as a linear d-dimensional model makes them, noise removed; the audit computes their
mean pairwise MS-SSIM with the same pairs, seed and window as for the real and synthetic sets
(:mod:`medaug.audit.diversity`), and the acceptance check compares the synthetic set to it
(:mod:`medaug.audit.checks`). d is the generator's latent size (``train_vae.network.latent_size``),
read from the trained model's ``model.json`` unless a parameter sets it.

PCA runs on whole volumes, as MS-SSIM does (it needs the full grid); voxels outside the head are
constant and carry no variance, so a brain mask would not change the components.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from medaug.models.pca import PCAReconstruction, pca_reconstruction  # noqa: F401  (re-exported)

logger = logging.getLogger(__name__)

MODEL_JSON = Path("model") / "model.json"
"""Where stage ``train_vae`` puts a label's model config, relative to ``<models_dir>/<label>``."""


def model_latent_size(document: Mapping[str, Any], source: str = "model.json") -> int:
    """``config.network.latent_size`` of a checkpoint document written by :func:`medaug.models.save_model`."""
    try:
        return int(document["config"]["network"]["latent_size"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{source}: no integer config.network.latent_size") from error


def reference_latent_size(options: Mapping[str, Any], label: str) -> int:
    """d for ``label``: ``options["latent_size"]`` if set, else read from ``<models_dir>/<label>/model/model.json``.

    ``options`` is the ``audit.reference`` parameter block. Raises ``FileNotFoundError`` naming the
    missing model json.
    """
    if options.get("latent_size") is not None:
        return int(options["latent_size"])
    path = Path(os.fspath(options["models_dir"])) / label / MODEL_JSON
    if not path.is_file():
        raise FileNotFoundError(f"{path}: model config not found; train the {label} model (stage train_vae) "
                                f"or set audit.reference.latent_size")
    return model_latent_size(json.loads(path.read_text()), str(path))


def label_references(train: Mapping[str, np.ndarray], options: Mapping[str, Any]
                     ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
    """The PCA reference of every label.

    Args:
        train: label -> that label's real training volumes (N, D, H, W).
        options: the ``audit.reference`` block (``latent_size``, ``models_dir``; see :func:`reference_latent_size`).
    Returns:
        (label -> reconstructions (N, D, H, W) float32, label -> ``{latent_size, rank, explained_variance}``).
    """
    volumes, info = {}, {}
    for label, images in train.items():
        d = reference_latent_size(options, label)
        result = pca_reconstruction(images, d)
        volumes[label] = result.volumes.astype(np.float32)
        info[label] = {"latent_size": d, "rank": result.rank, "explained_variance": result.explained_variance}
        logger.info("PCA reference %s: rank %d (latent size %d) explains %.3f of the training variance", label,
                    result.rank, d, result.explained_variance)
    return volumes, info
