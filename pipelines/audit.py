"""Stage ``audit``: memorisation, diversity, fidelity and acceptance checks of the synthetic volumes.

    python -m pipelines.audit [--params params.yaml]

Reads the ``audit`` section of params.yaml and the classifier's classes ``classify.labels``, and runs
:func:`medaug.audit.stage.run`, which documents the inputs and writes ``<results_dir>`` (tables,
figures, montages) and ``<metrics>``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from medaug.audit.stage import run
from medaug.classify.labels import ClassLabels
from pipelines._params import load_params
from medaug.stage_runner import run_stage

logger = logging.getLogger("pipelines.audit")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    params = load_params("audit", args.params)
    run(params, ClassLabels.from_params(load_params("classify", args.params)))
    logger.info("audit written to %s and %s", params["results_dir"], params["metrics"])
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
