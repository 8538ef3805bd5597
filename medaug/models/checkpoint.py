"""Model checkpoints: ``model.safetensors`` (tensors only) + ``model.json`` (type and config).

Loading runs no code from the files: the JSON is validated against the known model types and
their config dataclasses (unknown keys are an error), the model is rebuilt from it, and the
safetensors must hold exactly the model's tensors with the right shapes (the metric buffers may
have any number of centroids). Both files are written atomically.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import Tensor

from medaug.checkpoint import CONFIG_NAME, WEIGHTS_NAME, CheckpointError
from medaug.checkpoint import load_state_checked, load_tensors, read_description
from medaug.io import atomic_path
from medaug.models.registry import MODEL_CLASSES
from medaug.models.vae import VAE

__all__ = [
    "MODEL_CLASSES",
    "CHECKPOINT_FORMAT",
    "CheckpointError",
    "save_model",
    "load_model",
    "model_from_config",
    "save_tensors",
    "load_tensors",
]

CHECKPOINT_FORMAT = "medaug-model"
FORMAT_VERSION = 1

#: Buffers whose first dimension (number of centroids) may differ from a freshly built model's.
_RESIZABLE_SUFFIXES = ("metric.centroids", "metric.cholesky", "metric.means", "metric.variances")


def save_tensors(tensors: dict[str, Tensor], path: str | os.PathLike, metadata: dict[str, str] | None = None) -> None:
    """Write contiguous CPU copies of ``tensors`` to a safetensors file, atomically."""
    cpu = {name: t.detach().to("cpu").contiguous() for name, t in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(cpu, str(tmp), metadata=metadata)


def model_from_config(document: dict[str, Any], source: str | os.PathLike = "model description") -> VAE:
    """Build an untrained model from a checkpoint's JSON description (its ``model_type`` and
    ``config``, validated); errors name ``source``."""
    model_type = document.get("model_type")
    if model_type not in MODEL_CLASSES:
        raise CheckpointError(f"{source}: unknown model_type {model_type!r} (known: {sorted(MODEL_CLASSES)})")
    cls = MODEL_CLASSES[model_type]
    try:
        config = cls.config_class.from_dict(document.get("config", {}))
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{source}: invalid {model_type} config ({error})") from error
    return cls(config)


def save_model(model: VAE, directory: str | os.PathLike, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model.safetensors`` and ``model.json`` into ``directory``; returns the directory.

    ``extra`` (JSON-serialisable) is stored under the key ``extra`` (e.g. training provenance).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = model.state_dict()
    save_tensors(state, directory / WEIGHTS_NAME, metadata={"model_type": model.model_type})
    document = {
        "format": CHECKPOINT_FORMAT,
        "format_version": FORMAT_VERSION,
        "model_type": model.model_type,
        "config": model.config.to_dict(),
        "tensors": {name: list(t.shape) for name, t in state.items()},
        "extra": extra or {},
    }
    with atomic_path(directory / CONFIG_NAME) as tmp:
        tmp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return directory


def load_model(directory: str | os.PathLike, device: str | torch.device = "cpu") -> VAE:
    """Rebuild a model saved by :func:`save_model`, in eval mode, on ``device``."""
    directory = Path(directory)
    document = read_description(directory, CHECKPOINT_FORMAT, FORMAT_VERSION, "format_version")
    model = model_from_config(document, directory / CONFIG_NAME)
    load_state_checked(model, load_tensors(directory / WEIGHTS_NAME), directory / WEIGHTS_NAME, _RESIZABLE_SUFFIXES)
    return model.to(device).eval()
