"""Stage ``report``: ``results/report.md`` and its figures from the outputs of every other stage.

    python -m pipelines.report [--params params.yaml]

Reads the ``report`` section of params.yaml and, to find the other stages' outputs, the sections
listed in :mod:`medaug.report.sources`. Writes ``report.out`` and the folder ``report.figures_dir``
(see :mod:`medaug.report.writer`).
"""

from __future__ import annotations

import argparse
import logging
import sys

from medaug.report import write_report
from medaug.report.sources import report_settings, report_sources
from pipelines._params import load_params
from pipelines._runner import run_stage

logger = logging.getLogger("pipelines.report")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    params = load_params(None, args.params)
    if "report" not in params:
        raise KeyError(f"{args.params}: no section 'report'")
    report = params["report"]
    write_report(report_sources(params), report["out"], report["figures_dir"], report_settings(report))
    logger.info("wrote %s and %s/", report["out"], report["figures_dir"])
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main, timed=False))  # the report reads metrics/timings: it must not write there
