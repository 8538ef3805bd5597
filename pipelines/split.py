"""Stage ``split``: labels of every cohort, splits of the training cohort, external test sets.

    python -m pipelines.split [--params params.yaml]

Reads the ``split`` section of params.yaml and runs :func:`medaug.split.stage.run`, which writes
``<out_dir>`` (labels, splits, external test sets) and ``<metrics>``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from medaug.split.stage import run
from pipelines._params import load_params
from medaug.stage_runner import run_stage

logger = logging.getLogger("pipelines.split")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="parameter file (section 'split')")
    args = parser.parse_args(argv)
    metrics = run(load_params("split", args.params))
    for name, entry in metrics["cohorts"].items():
        logger.info("%s: %s", name, entry["counts"])
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
