"""Stage ``train_classifier@<trainset>``: train every run of one training set, in one process.

    python -m pipelines.train_classifier --trainset real [--params params.yaml]

Reads the ``classify`` section of params.yaml (training sets: :mod:`medaug.classify.trainsets`) and
runs :func:`medaug.classify.stage.run`, which trains run ``k`` of ``classify.runs`` with
seed ``classify.seed + k`` and writes the folder ``<out_dir>/<trainset>/`` atomically, one
``run-<k>/`` per run: ``model.safetensors``, ``model.json``, ``history.tsv`` (one row per
validation), ``training_set.tsv`` (the images used) and ``summary.json`` (kept, stopped and cap
steps, whether the kept step lies in the last fifth of the cap, the kept validation's scores,
images seen, counts).
"""

from __future__ import annotations

import argparse
import sys

from medaug.classify.stage import run
from pipelines._params import load_params
from medaug.stage_runner import run_stage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainset", required=True, help="a key of classify.real_trainsets or synthetic_trainsets")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    run(load_params("classify", args.params), args.trainset)
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
