"""The generative models by name (``model_type``), and building one from ``train_vae`` parameters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from medaug.models.geometric_vae import GeometricVAE
from medaug.models.networks import NetworkConfig
from medaug.models.rhvae import RHVAE
from medaug.models.vae import VAE

__all__ = ["MODEL_CLASSES", "build_model"]

#: model_type -> class; the names of ``train_vae.model`` and of a checkpoint's ``model_type``.
MODEL_CLASSES: dict[str, type[VAE]] = {cls.model_type: cls for cls in (VAE, RHVAE, GeometricVAE)}


def build_model(model_name: str, train_params: Mapping[str, Any], spatial_shape: Sequence[int]) -> VAE:
    """An untrained ``model_name`` whose network is sized for volumes (or slices) of ``spatial_shape``.

    Uses ``train_params["network"]`` with ``spatial_dims = len(spatial_shape)``, and the model's own
    section ``train_params[model_name]`` (absent: the config defaults). Raises ``ValueError`` for an
    unknown name.
    """
    if model_name not in MODEL_CLASSES:
        raise ValueError(f"unknown model {model_name!r} (known: {sorted(MODEL_CLASSES)})")
    cls = MODEL_CLASSES[model_name]
    shape = [int(n) for n in spatial_shape]
    network = NetworkConfig.from_dict({**train_params["network"], "spatial_dims": len(shape), "spatial_shape": shape})
    return cls(cls.config_class.from_dict({**(train_params.get(model_name) or {}), "network": network}))
