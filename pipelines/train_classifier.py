"""Stage ``train_classifier@<trainset>-<run>``: train one AD-vs-CN CNN on one training set with one seed.

    python -m pipelines.train_classifier --trainset real --run 0 [--params params.yaml]

Reads the ``classify`` section of params.yaml (training sets: :mod:`medaug.classify.trainsets`) and
runs :func:`medaug.classify.run.train_run`, which writes the folder
``<out_dir>/<trainset>/run-<k>/`` atomically: ``model.safetensors``, ``model.json``,
``history.tsv`` (one row per validation), ``training_set.tsv`` (the images used) and
``summary.json`` (kept step and epoch, validation scores, optimisation steps and images seen, counts).
"""

from __future__ import annotations

import argparse
import sys

from medaug.classify.run import train_run
from pipelines._params import load_params
from pipelines._runner import run_stage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainset", required=True, help="a key of classify.real_trainsets or synthetic_trainsets")
    parser.add_argument("--run", type=int, required=True, help="run index (seed = classify.seed + run)")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    train_run(load_params("classify", args.params), args.trainset, args.run)
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
