"""Resumable training state: model, best model and optimiser tensors in safetensors, the rest in JSON.

The trainer writes it at its checkpoints (every ``checkpoint_every_s`` seconds, at the end of
training, and when training stops on an exception), not after every epoch: for large models one
state is tens of GB.

Layout of a state directory::

    state-epoch00012.safetensors   tensors "model/<name>", "best/<name>", "optimizer/<index>/<key>"
    state.json                     epoch, tensor file name, trainer counters, optimiser param groups,
                                   ``best_is_model`` (the best weights are the "model/" tensors, not
                                   stored twice), and the fingerprint (model + training config +
                                   data) it belongs to

The tensor file is written first under a name that includes the epoch, then ``state.json`` is
replaced atomically, then older tensor files are removed: a kill at any point leaves a consistent
state (the previous or the new one).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from medaug.io import atomic_path
from medaug.models.checkpoint import load_tensors, save_tensors

__all__ = ["save_training_state", "load_training_state"]

STATE_NAME = "state.json"


def _optimizer_tensors(state: Mapping[str, Any]) -> tuple[dict[str, Tensor], list[dict[str, Any]]]:
    tensors = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            tensors[f"optimizer/{index}/{key}"] = value if isinstance(value, Tensor) else torch.tensor(value)
    groups = [{k: list(v) if isinstance(v, tuple) else v for k, v in group.items()} for group in state["param_groups"]]
    return tensors, groups


def save_training_state(
    directory: str | os.PathLike,
    epoch: int,
    model_state: Mapping[str, Tensor],
    best_state: Mapping[str, Tensor] | None,
    optimizer_state: Mapping[str, Any],
    trainer: dict[str, Any],
    fingerprint: dict[str, Any],
) -> None:
    """Save everything needed to continue training after epoch ``epoch``.

    Args:
        model_state: the model's ``state_dict()`` (parameters and buffers) after that epoch.
        best_state: the ``state_dict`` of the best epoch so far, or None.
        optimizer_state: the optimiser's ``state_dict()`` after that epoch.
        trainer: the trainer's counters (JSON-serialisable, history included).
        fingerprint: what the state belongs to (model config, training config, data).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {f"model/{k}": v for k, v in model_state.items()}
    # the best epoch may be this one, its weights the very same tensors: stored once
    best_is_model = best_state is not None and best_state.keys() == model_state.keys() and all(
        best_state[k] is model_state[k] for k in best_state)
    if best_state is not None and not best_is_model:
        tensors.update({f"best/{k}": v for k, v in best_state.items()})
    optimizer_tensors, groups = _optimizer_tensors(optimizer_state)
    tensors.update(optimizer_tensors)
    file_name = f"state-epoch{epoch:05d}.safetensors"
    save_tensors(tensors, directory / file_name, metadata={"epoch": str(epoch)})
    document = {
        "epoch": epoch,
        "tensor_file": file_name,
        "trainer": trainer,
        "optimizer_param_groups": groups,
        "best_is_model": best_is_model,
        "fingerprint": fingerprint,
    }
    with atomic_path(directory / STATE_NAME) as tmp:
        tmp.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
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
    prefix = "model/" if document.get("best_is_model") else "best/"
    best = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)} or None
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
