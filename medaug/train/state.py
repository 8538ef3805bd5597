"""Resumable training state: model, best model and optimiser tensors in safetensors, the rest in JSON.

Layout of a state directory::

    state-epoch00012.safetensors   tensors "model/<name>", "best/<name>", "optimizer/<index>/<key>"
    state.json                     epoch, tensor file name, trainer counters, optimiser param groups,
                                   and the fingerprint (model + training config + data) it belongs to

The tensor file is written first under a name that includes the epoch, then ``state.json`` is
replaced atomically, then older tensor files are removed: a kill at any point leaves a consistent
state (the previous or the new one).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from medaug.io import atomic_path
from medaug.models.checkpoint import load_tensors, save_tensors

__all__ = ["save_training_state", "load_training_state"]

STATE_NAME = "state.json"


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, Tensor], list[dict[str, Any]]]:
    state = optimizer.state_dict()
    tensors = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            tensors[f"optimizer/{index}/{key}"] = value if isinstance(value, Tensor) else torch.tensor(value)
    groups = [{k: list(v) if isinstance(v, tuple) else v for k, v in group.items()} for group in state["param_groups"]]
    return tensors, groups


def save_training_state(
    directory: str | os.PathLike,
    epoch: int,
    model: nn.Module,
    best_state: dict[str, Tensor] | None,
    optimizer: torch.optim.Optimizer,
    trainer: dict[str, Any],
    fingerprint: dict[str, Any],
) -> None:
    """Save everything needed to continue training after epoch ``epoch``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {f"model/{k}": v for k, v in model.state_dict().items()}
    if best_state is not None:
        tensors.update({f"best/{k}": v for k, v in best_state.items()})
    optimizer_tensors, groups = _optimizer_tensors(optimizer)
    tensors.update(optimizer_tensors)
    file_name = f"state-epoch{epoch:05d}.safetensors"
    save_tensors(tensors, directory / file_name, metadata={"epoch": str(epoch)})
    document = {
        "epoch": epoch,
        "tensor_file": file_name,
        "trainer": trainer,
        "optimizer_param_groups": groups,
        "fingerprint": fingerprint,
    }
    with atomic_path(directory / STATE_NAME) as tmp:
        tmp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    for old in directory.glob("state-epoch*.safetensors"):
        if old.name != file_name:
            old.unlink(missing_ok=True)


def load_training_state(
    directory: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    fingerprint: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Tensor] | None] | None:
    """Restore model and optimiser from ``directory``; returns (trainer counters, best state) or None.

    None when there is no state, or when it belongs to another fingerprint (other config or data):
    the caller then starts from scratch.
    """
    path = Path(directory) / STATE_NAME
    if not path.is_file():
        return None
    document = json.loads(path.read_text())
    if document.get("fingerprint") != fingerprint:
        return None
    # on CPU: load_state_dict copies into the parameters' device, and Adam wants its "step" on CPU
    tensors = load_tensors(Path(directory) / document["tensor_file"], device="cpu")
    model.load_state_dict({k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")})
    best = {k[len("best/"):]: v for k, v in tensors.items() if k.startswith("best/")} or None
    optimizer_state: dict[int, dict[str, Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer/"):
            _, index, name = key.split("/", 2)
            optimizer_state.setdefault(int(index), {})[name] = value
    groups = document["optimizer_param_groups"]
    for group in groups:
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
    optimizer.load_state_dict({"state": optimizer_state, "param_groups": groups})
    return document["trainer"], best
