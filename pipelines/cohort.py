"""Stage ``cohort``: generate the demo cohorts as BIDS raw datasets (:func:`medaug.cohort.stage.run`).

    python -m pipelines.cohort [--params params.yaml]

Outputs: ``<out_dir>/<cohort>/`` (BIDS raw), ``<results_dir>/<cohort>_montage.png``,
``<metrics_dir>/cohort.json`` (participants per trajectory, images, seconds per image).
"""

from __future__ import annotations

import argparse
import sys

from medaug.cohort.stage import run
from pipelines._params import load_params
from medaug.stage_runner import run_stage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="parameter file (section 'cohort')")
    args = parser.parse_args(argv)
    run(load_params("cohort", args.params))
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
