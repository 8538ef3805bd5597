"""The training volumes of one diagnosis label: the model-ready stack (stage ``preprocess``,
:func:`medaug.preprocess.model_ready.load_stack`) restricted to the rows of one split table."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from medaug.preprocess.model_ready import load_stack, qc_excluded_sessions

__all__ = ["load_label_volumes"]

logger = logging.getLogger(__name__)


def load_label_volumes(stack_prefix: str | Path, split_table: str | Path, label: str) -> tuple[torch.Tensor, pd.DataFrame]:
    """Volumes of one label in one split: -> (float32 tensor (N, 1, D, H, W), the split rows used).

    The only place that knows the on-disk layout; adapt it here if the layout changes.
    Raises ``ValueError`` naming the sessions of the split that the stack lacks.
    """
    stack, index, _ = load_stack(stack_prefix)
    split = pd.read_csv(split_table, sep="\t", dtype={"participant_id": str, "session_id": str})
    missing_columns = {"participant_id", "session_id", "diagnosis"} - set(split.columns)
    if missing_columns:
        raise ValueError(f"{split_table}: missing columns {sorted(missing_columns)}")
    rows = split[split["diagnosis"] == label][["participant_id", "session_id"]]
    excluded = qc_excluded_sessions(stack_prefix)  # left out of the stack by the preprocessing QC
    if excluded:
        keep = [(p, s) not in excluded for p, s in zip(rows["participant_id"], rows["session_id"])]
        if not all(keep):
            logger.warning("%s: %d %s session(s) left out by preprocessing QC", split_table, keep.count(False), label)
        rows = rows[keep]
    merged = rows.merge(index, on=["participant_id", "session_id"], how="left", validate="one_to_one")
    if merged["row"].isna().any():
        lacking = merged[merged["row"].isna()][["participant_id", "session_id"]].astype(str).agg("/".join, axis=1)
        raise ValueError(f"{stack_prefix}: no volume for {len(lacking)} sessions of {split_table}: {list(lacking)[:5]}")
    volumes = np.stack([np.asarray(stack[int(r)], dtype=np.float32) for r in merged["row"]]) if len(merged) else np.zeros((0, *stack.shape[1:]), np.float32)
    return torch.from_numpy(volumes)[:, None], merged
