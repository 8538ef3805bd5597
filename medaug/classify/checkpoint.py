"""Classifier checkpoints: ``model.safetensors`` (tensors only) + ``model.json`` (architecture, labels, notes).

Loading runs no code from the files: the JSON is checked against :class:`Conv5FC3Config`, the
network is rebuilt from it, and the safetensors must hold exactly its tensors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from safetensors.torch import save_file

from medaug.checkpoint import CONFIG_NAME, WEIGHTS_NAME, CheckpointError
from medaug.checkpoint import load_state_checked, load_tensors, read_description
from medaug.classify.labels import DEMO_CLASSES, ClassLabels
from medaug.classify.networks import Conv5FC3, Conv5FC3Config
from medaug.io import atomic_path, write_json

__all__ = ["CHECKPOINT_FORMAT", "CheckpointError", "load_classifier", "save_classifier"]

CHECKPOINT_FORMAT = "medaug-classifier"
FORMAT_VERSION = 1


def save_classifier(directory: str | Path, model: Conv5FC3, metadata: dict[str, Any] | None = None,
                    classes: ClassLabels = DEMO_CLASSES) -> None:
    """Write ``<directory>/model.safetensors`` and ``model.json`` (each atomically); the JSON's
    ``labels`` are ``classes.names``, the labels of output 0 and 1 (negative, positive)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(directory / WEIGHTS_NAME) as tmp:
        save_file(tensors, str(tmp))
    write_json({"format": CHECKPOINT_FORMAT, "version": FORMAT_VERSION, "network": model.config.to_dict(),
                "labels": list(classes.names), "metadata": metadata or {}}, directory / CONFIG_NAME)


def load_classifier(directory: str | Path, classes: ClassLabels = DEMO_CLASSES) -> tuple[Conv5FC3, dict[str, Any]]:
    """(network in eval mode on CPU, the metadata saved with it); its ``labels`` must be ``classes.names``."""
    directory = Path(directory)
    config_path, weights_path = directory / CONFIG_NAME, directory / WEIGHTS_NAME
    description = read_description(directory, CHECKPOINT_FORMAT, FORMAT_VERSION, "version")
    if list(description.get("labels", [])) != list(classes.names):
        raise CheckpointError(f"{config_path}: labels {description.get('labels')} (negative, positive) differ from "
                              f"classify.labels {classes.to_params()}; retrain the classifier (stage train_classifier)")
    try:
        model = Conv5FC3(Conv5FC3Config.from_dict(description["network"]))
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{config_path}: invalid network description ({err})") from err
    load_state_checked(model, load_tensors(weights_path), weights_path)
    return model.eval(), dict(description.get("metadata", {}))
