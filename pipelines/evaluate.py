"""Stage ``evaluate``: every trained classifier on every test cohort; metrics per run, mean and sd over runs.

    python -m pipelines.evaluate [--params params.yaml]

Reads the ``classify`` section of params.yaml and runs :func:`medaug.evaluate.stage.run`.
"""

from __future__ import annotations

import argparse
import sys

from medaug.evaluate.stage import run
from pipelines._params import load_params
from medaug.stage_runner import run_stage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    run(load_params("classify", args.params))
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
