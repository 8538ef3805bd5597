"""Stage ``train_vae@<label>``: train one generative model on one diagnosis label's training volumes.

    python -m pipelines.train_vae --label AD [--params params.yaml]

Reads the ``train_vae`` section of ``params.yaml``, the cohort's model-ready stack (see
:mod:`medaug.preprocess.model_ready`) and the split tables ``<splits_dir>/<split>.tsv``
(participant_id, session_id, diagnosis); keeps the rows of ``--label`` only. Writes
``<out_dir>/<label>/`` (model.safetensors, model.json, training_curve.tsv, training_curve.png)
and ``<metrics_dir>/<label>.json`` (training outcome, and whether the model generates: the spread
of its reconstructions next to the real volumes' and their rank-d PCA reconstructions'). The resumable state lives in ``<state_dir>/<label>/``, outside
the DVC outputs (DVC deletes outputs before it reruns a stage), so a killed run resumes.
"""

from __future__ import annotations

import sys

import argparse
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from medaug.io import write_json
from medaug.models.diagnostics import reconstruction_diagnostics
from medaug.models.geometric_vae import GeometricVAE, GeometricVAEConfig
from medaug.models.networks import NetworkConfig
from medaug.models.rhvae import RHVAE, RHVAEConfig
from medaug.models.vae import VAE, VAEConfig
from medaug.train import TrainingConfig, train_model
from pipelines._params import load_params
from pipelines._timing import run_stage

logger = logging.getLogger("pipelines.train_vae")

_MODELS = {"vae": (VAE, VAEConfig), "rhvae": (RHVAE, RHVAEConfig), "geometric_vae": (GeometricVAE, GeometricVAEConfig)}


def load_label_volumes(stack_prefix: str | Path, split_table: str | Path, label: str) -> tuple[torch.Tensor, pd.DataFrame]:
    """Volumes of one label in one split: -> (float32 tensor (N, 1, D, H, W), the split rows used).

    The only place that knows the on-disk layout; adapt it here if the layout changes.
    Raises ``ValueError`` naming the sessions of the split that the stack lacks.
    """
    from medaug.preprocess.model_ready import load_stack, qc_excluded_sessions

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


def build_model(params: dict[str, Any], spatial_shape: tuple[int, ...]) -> VAE:
    """The model named by ``params["model"]``, its network sized for ``spatial_shape``."""
    kind = params["model"]
    if kind not in _MODELS:
        raise ValueError(f"train_vae.model must be one of {sorted(_MODELS)}, got {kind!r}")
    network = NetworkConfig.from_dict({**params["network"], "spatial_dims": len(spatial_shape), "spatial_shape": list(spatial_shape)})
    cls, config_cls = _MODELS[kind]
    return cls(config_cls.from_dict({**params.get(kind, {}), "network": network}))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train one generative model for one diagnosis label.")
    parser.add_argument("--label", required=True, help="diagnosis label, e.g. AD or CN")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    params = load_params("train_vae", args.params)
    torch.set_num_threads(int(params.get("threads", torch.get_num_threads())))

    splits_dir = Path(params["splits_dir"])
    train = load_label_volumes(params["stack"], splits_dir / f"{params['train_split']}.tsv", args.label)[0]
    if train.shape[0] == 0:
        raise SystemExit(f"no {args.label} volumes in {splits_dir / (params['train_split'] + '.tsv')}")
    val = None
    if params.get("validation_split"):
        val = load_label_volumes(params["stack"], splits_dir / f"{params['validation_split']}.tsv", args.label)[0]
    logger.info("%s: %d training and %d validation volumes of shape %s", args.label, train.shape[0],
                0 if val is None else val.shape[0], tuple(train.shape[2:]))

    torch.manual_seed(int(params["training"].get("seed", 0)))
    model = build_model(params, tuple(train.shape[2:]))
    out_dir = Path(params["out_dir"]) / args.label
    result = train_model(model, train, val, TrainingConfig.from_dict(params["training"]), out_dir,
                         state_dir=Path(params["state_dir"]) / args.label)
    metrics = {
        "label": args.label,
        "model": model.model_type,
        "n_train": int(train.shape[0]),
        "n_validation": 0 if val is None else int(val.shape[0]),
        "best_epoch": result.best_epoch,
        "best_elbo": result.best_elbo,
        "monitored": result.monitored,
        "epochs_run": result.epochs_run,
        "stop_reason": result.stop_reason,
        "restarts": result.restarts,
        # does the model generate? spread of its reconstructions vs real and rank-d PCA (medaug.models.diagnostics)
        "diagnostics": reconstruction_diagnostics(model, train, val, batch_size=int(params["training"]["eval_batch_size"])),
    }
    write_json(metrics, Path(params["metrics_dir"]) / f"{args.label}.json")
    logger.info("%s: best %s ELBO %.2f at epoch %d (%s)", args.label, result.monitored, result.best_elbo,
                result.best_epoch, result.stop_reason)


if __name__ == "__main__":
    sys.exit(run_stage(main))
