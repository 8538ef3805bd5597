"""Stage ``train_vae@<label>``: train one generative model on one diagnosis label's training volumes.

    python -m pipelines.train_vae --label AD [--params params.yaml]

Reads the ``train_vae`` section of ``params.yaml`` and runs :func:`medaug.train.stage.run`, which
writes ``<out_dir>/<label>/`` (model.safetensors, model.json, training_curve.tsv/.png) and
``<metrics_dir>/<label>.json``. The resumable state lives in ``<state_dir>/<label>/``, outside the
DVC outputs (DVC deletes outputs before it reruns a stage), so a killed run resumes.
"""

from __future__ import annotations

import argparse
import sys

from medaug.train.stage import run
from pipelines._params import load_params
from medaug.stage_runner import run_stage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train one generative model for one diagnosis label.")
    parser.add_argument("--label", required=True, help="diagnosis label, e.g. AD or CN")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    run(load_params("train_vae", args.params), args.label)
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
