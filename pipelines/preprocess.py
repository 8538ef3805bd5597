"""Stage ``preprocess``: t1-linear on each cohort's baseline T1w images (:func:`medaug.preprocess.stage.run`).

    python -m pipelines.preprocess [--cohort NAME] [--params params.yaml]
"""

from __future__ import annotations

import argparse
import sys

from medaug.preprocess.stage import run
from pipelines._params import load_params
from medaug.stage_runner import run_stage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", action="append", help="cohort to run (default: every cohort in params)")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    run(load_params("preprocess", args.params), args.cohort)
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
