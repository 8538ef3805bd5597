"""Classifier checkpoints: ``model.safetensors`` (tensors only) + ``model.json`` (architecture, labels, notes).

Loading runs no code from the files: the JSON is checked against :class:`Conv5FC3Config`, the
network is rebuilt from it, and the safetensors must hold exactly its tensors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

from medaug.classify.data import LABELS
from medaug.classify.networks import Conv5FC3, Conv5FC3Config
from medaug.io import atomic_path, write_json

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "model.json"
CHECKPOINT_FORMAT = "medaug-classifier"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A classifier checkpoint is missing, malformed or does not match its architecture; names the file."""


def save_classifier(directory: str | Path, model: Conv5FC3, metadata: dict[str, Any] | None = None) -> None:
    """Write ``<directory>/model.safetensors`` and ``model.json`` (each atomically)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(directory / WEIGHTS_NAME) as tmp:
        save_file(tensors, str(tmp))
    write_json({"format": CHECKPOINT_FORMAT, "version": FORMAT_VERSION, "network": model.config.to_dict(),
                "labels": list(LABELS), "metadata": metadata or {}}, directory / CONFIG_NAME)


def load_classifier(directory: str | Path) -> tuple[Conv5FC3, dict[str, Any]]:
    """(network in eval mode on CPU, the metadata saved with it)."""
    directory = Path(directory)
    config_path, weights_path = directory / CONFIG_NAME, directory / WEIGHTS_NAME
    for path in (config_path, weights_path):
        if not path.is_file():
            raise CheckpointError(f"{path}: file not found")
    try:
        description = json.loads(config_path.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{config_path}: not valid JSON ({err})") from err
    if description.get("format") != CHECKPOINT_FORMAT or description.get("version") != FORMAT_VERSION:
        raise CheckpointError(f"{config_path}: not a {CHECKPOINT_FORMAT} v{FORMAT_VERSION} checkpoint")
    if list(description.get("labels", [])) != list(LABELS):
        raise CheckpointError(f"{config_path}: labels {description.get('labels')} differ from {list(LABELS)}")
    try:
        model = Conv5FC3(Conv5FC3Config.from_dict(description["network"]))
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{config_path}: invalid network description ({err})") from err
    tensors = load_file(str(weights_path))
    expected = model.state_dict()
    if set(tensors) != set(expected) or any(tensors[k].shape != expected[k].shape for k in expected):
        raise CheckpointError(f"{weights_path}: tensors do not match the network of {config_path}")
    model.load_state_dict(tensors)
    return model.eval(), dict(description.get("metadata", {}))
