"""Stage ``cohort``: generate the demo cohorts as BIDS raw datasets.

Outputs: ``<out_dir>/<cohort>/`` (BIDS raw), ``<results_dir>/<cohort>_montage.png``,
``metrics/cohort.json`` (participants per trajectory, images, seconds per image).
"""

from __future__ import annotations

import argparse
import sys

from medaug.io import write_json
from medaug.cohort import CohortConfig, generate_cohorts
from pipelines._params import load_params
from pipelines._runner import run_stage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="parameter file (section 'cohort')")
    parser.add_argument("--metrics", default="metrics/cohort.json")
    args = parser.parse_args(argv)

    params = load_params("cohort", args.params)
    config = CohortConfig.from_dict(params)  # CohortConfigError names the bad parameter
    summary = generate_cohorts(config, params["out_dir"], params["results_dir"], params["montage_subjects"])
    write_json(summary, args.metrics)
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
