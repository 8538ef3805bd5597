"""Stage ``derivatives@<cohort>``: the synthetic cohorts as a BIDS-derivatives dataset.

    python -m pipelines.derivatives --cohort NAME [--params params.yaml]

Reads the ``derivatives`` section of params.yaml and runs :func:`medaug.derivatives.run`, which writes
``<derivatives.out_dir>`` as a whole, atomically; the summary goes to
``<derivatives.metrics_dir>/derivatives_<NAME>.json``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from medaug.derivatives import run
from medaug.io import write_json
from pipelines._params import load_params
from medaug.stage_runner import run_stage

logger = logging.getLogger("pipelines.derivatives")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", required=True, help="the training cohort (an entry of derivatives.cohorts)")
    parser.add_argument("--params", default="params.yaml", help="parameter file (section 'derivatives')")
    args = parser.parse_args(argv)
    params = load_params("derivatives", args.params)
    summary = run(params)
    logger.info("%s: synthetic images written to %s: %s", args.cohort, params["out_dir"], summary["labels"])
    write_json(summary, Path(params.get("metrics_dir", "metrics")) / f"derivatives_{args.cohort}.json")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
