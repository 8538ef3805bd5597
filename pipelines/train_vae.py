"""Stage ``train_vae@<label>``: train one generative model on one diagnosis label's training volumes.

    python -m pipelines.train_vae --label AD [--params params.yaml]

Reads the ``train_vae`` section of ``params.yaml``, the cohort's model-ready stack (see
:mod:`medaug.preprocess.model_ready`) and the split tables ``<splits_dir>/<split>.tsv``
(participant_id, session_id, diagnosis); keeps the rows of ``--label`` only. Writes
``<out_dir>/<label>/`` (model.safetensors, model.json, training_curve.tsv, training_curve.png)
and ``<metrics_dir>/<label>.json`` (training outcome, and whether the model generates: the spread
of its reconstructions next to the real volumes' and their rank-d PCA reconstructions'). The
resumable state lives in ``<state_dir>/<label>/``, outside the DVC outputs (DVC deletes outputs
before it reruns a stage), so a killed run resumes.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
from pathlib import Path

import torch

from medaug.io import write_json
from medaug.models.diagnostics import reconstruction_diagnostics
from medaug.models.registry import build_model
from medaug.runtime import set_threads
from medaug.train import TrainingConfig, train_model
from medaug.volumes import load_label_volumes
from pipelines._params import load_params
from pipelines._runner import run_stage

logger = logging.getLogger("pipelines.train_vae")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train one generative model for one diagnosis label.")
    parser.add_argument("--label", required=True, help="diagnosis label, e.g. AD or CN")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    params = load_params("train_vae", args.params)
    set_threads(params.get("threads"))

    splits_dir = Path(params["splits_dir"])
    train_table = splits_dir / f"{params['train_split']}.tsv"
    train = load_label_volumes(params["stack"], train_table, args.label)[0]
    if train.shape[0] == 0:
        raise ValueError(f"{train_table}: no {args.label} volumes")
    val = None
    if params.get("validation_split"):
        val = load_label_volumes(params["stack"], splits_dir / f"{params['validation_split']}.tsv", args.label)[0]
    logger.info("%s: %d training and %d validation volumes of shape %s", args.label, train.shape[0],
                0 if val is None else val.shape[0], tuple(train.shape[2:]))

    torch.manual_seed(int(params["training"].get("seed", 0)))
    model = build_model(params["model"], params, tuple(train.shape[2:]))
    result = train_model(model, train, val, TrainingConfig.from_dict(params["training"]),
                         Path(params["out_dir"]) / args.label, state_dir=Path(params["state_dir"]) / args.label)
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
        "median_seconds_per_epoch": round(statistics.median(row["seconds"] for row in result.history), 3) if result.history else None,
        # does the model generate? spread of its reconstructions vs real and rank-d PCA (medaug.models.diagnostics)
        "diagnostics": reconstruction_diagnostics(model, train, val, batch_size=int(params["training"]["eval_batch_size"])),
    }
    write_json(metrics, Path(params["metrics_dir"]) / f"{args.label}.json")
    logger.info("%s: best %s ELBO %.2f at epoch %d (%s)", args.label, result.monitored, result.best_elbo,
                result.best_epoch, result.stop_reason)
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
