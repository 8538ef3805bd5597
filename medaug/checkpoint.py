"""The one reader of a checkpoint folder: ``model.safetensors`` (tensors only) + ``model.json``.

Generative models (:mod:`medaug.models.checkpoint`) and classifiers
(:mod:`medaug.classify.checkpoint`) are stored the same way and read by these functions, so a bad
checkpoint is reported in the same words whichever kind it is, naming the file. Nothing here runs
code from the files: the JSON is plain data and the tensors are safetensors.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import Tensor, nn

__all__ = ["CONFIG_NAME", "WEIGHTS_NAME", "CheckpointError", "load_state_checked", "load_tensors",
           "read_description"]

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "model.json"


class CheckpointError(ValueError):
    """A checkpoint is missing, malformed, or does not match its description; the message names the file."""


def read_description(directory: str | os.PathLike, checkpoint_format: str, version: int,
                     version_key: str) -> dict[str, Any]:
    """The JSON description of the checkpoint in ``directory``, after checking both files exist and
    its ``format`` and ``version_key`` are ``checkpoint_format`` and ``version``."""
    directory = Path(directory)
    config_path = directory / CONFIG_NAME
    for path in (config_path, directory / WEIGHTS_NAME):
        if not path.is_file():
            raise CheckpointError(f"{path}: file not found")
    try:
        description = json.loads(config_path.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{config_path}: not valid JSON ({err})") from err
    found = (description.get("format"), description.get(version_key)) if isinstance(description, dict) else (None, None)
    if found != (checkpoint_format, version):
        raise CheckpointError(f"{config_path}: not a {checkpoint_format} checkpoint of {version_key} {version} "
                              f"(format {found[0]!r}, {version_key} {found[1]!r})")
    return description


def load_tensors(path: str | os.PathLike, device: str | torch.device = "cpu") -> dict[str, Tensor]:
    """Read a safetensors file (tensors only, no code)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    return load_file(str(path), device=str(device))


def load_state_checked(model: nn.Module, state: dict[str, Tensor], source: str | os.PathLike,
                       resizable: Sequence[str] = ()) -> None:
    """``model.load_state_dict(state)`` after checking names and shapes; errors name ``source``.

    Tensors whose name ends with one of ``resizable`` may differ from the model's in their first
    dimension only (e.g. a latent metric's number of centroids).
    """
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{source}: tensors do not match the description (missing {missing[:5]}, "
                              f"unexpected {unexpected[:5]})")
    for name, tensor in state.items():
        want = expected[name].shape
        if tensor.shape != want and not (name.endswith(tuple(resizable)) and tensor.shape[1:] == want[1:]):
            raise CheckpointError(f"{source}: tensor {name} has shape {tuple(tensor.shape)}, the description gives {tuple(want)}")
    model.load_state_dict(state)
