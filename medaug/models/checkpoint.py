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
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

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
WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "model.json"

#: Buffers whose first dimension (number of centroids) may differ from a freshly built model's.
_RESIZABLE_SUFFIXES = ("metric.centroids", "metric.cholesky", "metric.means", "metric.variances")


class CheckpointError(ValueError):
    """A checkpoint is missing, malformed, or does not match its config."""


def save_tensors(tensors: dict[str, Tensor], path: str | os.PathLike, metadata: dict[str, str] | None = None) -> None:
    """Write contiguous CPU copies of ``tensors`` to a safetensors file, atomically."""
    cpu = {name: t.detach().to("cpu").contiguous() for name, t in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(cpu, str(tmp), metadata=metadata)


def load_tensors(path: str | os.PathLike, device: str | torch.device = "cpu") -> dict[str, Tensor]:
    """Read a safetensors file (tensors only, no code)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no such file: {path}")
    return load_file(str(path), device=str(device))


def model_from_config(document: dict[str, Any]) -> VAE:
    """Build an untrained model from a checkpoint's JSON document (validated)."""
    if not isinstance(document, dict) or document.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"not a {CHECKPOINT_FORMAT} document (format={document.get('format') if isinstance(document, dict) else None!r})")
    if document.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"unsupported format_version {document.get('format_version')!r} (expected {FORMAT_VERSION})")
    model_type = document.get("model_type")
    if model_type not in MODEL_CLASSES:
        raise CheckpointError(f"unknown model_type {model_type!r} (known: {sorted(MODEL_CLASSES)})")
    cls = MODEL_CLASSES[model_type]
    try:
        config = cls.config_class.from_dict(document.get("config", {}))
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"invalid {model_type} config: {error}") from error
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


def load_state_checked(model: nn.Module, state: dict[str, Tensor], source: str) -> None:
    """``load_state_dict`` after checking names and shapes, with messages that name ``source``."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{source}: tensors do not match the config (missing {missing[:5]}, unexpected {unexpected[:5]})")
    for name, tensor in state.items():
        want = expected[name].shape
        resizable = name.endswith(_RESIZABLE_SUFFIXES) and tensor.shape[1:] == want[1:]
        if tensor.shape != want and not resizable:
            raise CheckpointError(f"{source}: tensor {name} has shape {tuple(tensor.shape)}, config gives {tuple(want)}")
    model.load_state_dict(state)


def load_model(directory: str | os.PathLike, device: str | torch.device = "cpu") -> VAE:
    """Rebuild a model saved by :func:`save_model`, in eval mode, on ``device``."""
    directory = Path(directory)
    config_path = directory / CONFIG_NAME
    if not config_path.is_file():
        raise CheckpointError(f"no {CONFIG_NAME} in {directory}")
    try:
        document = json.loads(config_path.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{config_path}: invalid JSON ({error})") from error
    model = model_from_config(document)
    load_state_checked(model, load_tensors(directory / WEIGHTS_NAME), str(directory / WEIGHTS_NAME))
    return model.to(device).eval()
