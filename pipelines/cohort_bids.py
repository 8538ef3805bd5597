"""Stage ``cohort_bids@<name>``: one of your BIDS datasets as a cohort (one T1w per labelled participant).

    python -m pipelines.cohort_bids --cohort NAME [--params params.yaml]

Reads ``cohort.bids.<NAME>`` and runs :func:`medaug.ingest.stage.run`, which writes
``<cohort.out_dir>/<NAME>`` (the chosen images, medaug_images.tsv, medaug_excluded.tsv); the summary
goes to ``<cohort.metrics_dir>/cohort_<NAME>.json``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from medaug.ingest.stage import metrics_path, run
from medaug.io import write_json
from pipelines._params import load_params
from medaug.stage_runner import run_stage

logger = logging.getLogger("pipelines.cohort_bids")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", required=True, help="a key of cohort.bids")
    parser.add_argument("--params", default="params.yaml", help="parameter file (section 'cohort')")
    args = parser.parse_args(argv)
    params = load_params("cohort", args.params)
    summary = run(params, cohort=args.cohort)
    logger.info("%s: kept %s; excluded %s", args.cohort, summary["kept"], summary["excluded"])
    write_json(summary, metrics_path(params, args.cohort))
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
