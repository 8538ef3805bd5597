"""The training volumes of one diagnosis label: the model-ready stack (stage ``preprocess``,
:func:`medaug.preprocess.model_ready.load_stack`) restricted to the rows of one split table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from medaug.bids.layout import read_table
from medaug.preprocess.model_ready import load_stack, qc_excluded_sessions, session_rows

__all__ = ["load_label_volumes", "split_labels", "training_and_validation_volumes"]


def split_labels(split_table: str | Path) -> list[str]:
    """The diagnosis labels present in a split table, sorted."""
    return sorted(set(read_table(split_table, ("diagnosis",))["diagnosis"].astype(str)))


def load_label_volumes(stack_prefix: str | Path, split_table: str | Path, label: str) -> tuple[torch.Tensor, pd.DataFrame]:
    """Volumes of one label in one split: -> (float32 tensor (N, 1, D, H, W), the split rows used).

    The rows used are ``participant_id``, ``session_id`` and the stack ``row``, in volume order;
    sessions the preprocessing QC left out of the stack are dropped with a warning. Raises
    ``ValueError`` naming the split table when it lacks a column or the stack lacks one of its sessions.
    """
    stack, index, _ = load_stack(stack_prefix)
    split = read_table(split_table, ("participant_id", "session_id", "diagnosis"))
    sessions = split.loc[split["diagnosis"] == label, ["participant_id", "session_id"]].astype(str)
    rows, used = session_rows(index, sessions, str(split_table), qc_excluded_sessions(stack_prefix))
    used = used.assign(row=rows)
    volumes = np.stack([np.asarray(stack[r], dtype=np.float32) for r in rows]) if len(rows) else np.zeros((0, *stack.shape[1:]), np.float32)
    return torch.from_numpy(volumes)[:, None], used


def training_and_validation_volumes(params: dict, label: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The volumes of ``label`` in the ``train_vae`` parameters' training and validation splits.

    ``params`` holds ``stack``, ``splits_dir``, ``train_split`` and ``validation_split`` (a split name
    under ``splits_dir``, or empty for no validation set). Returns float32 tensors (N, 1, D, H, W);
    the validation tensor is None without a validation split. Raises ``ValueError`` naming the
    training table when it holds no volume of ``label``.
    """
    splits_dir = Path(params["splits_dir"])
    train_table = splits_dir / f"{params['train_split']}.tsv"
    train = load_label_volumes(params["stack"], train_table, label)[0]
    if train.shape[0] == 0:
        raise ValueError(f"{train_table}: no {label} volumes")
    val = None
    if params.get("validation_split"):
        val = load_label_volumes(params["stack"], splits_dir / f"{params['validation_split']}.tsv", label)[0]
    return train, val
