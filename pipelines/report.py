"""Stage ``report``: ``results/report.md`` and its figures from the outputs of every other stage.

    python -m pipelines.report [--params params.yaml]

Reads the whole of params.yaml and runs :func:`medaug.report.stage.run`, which writes ``report.out``,
the folder ``report.figures_dir`` and the docs site's results pages (see :mod:`medaug.report.writer`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from medaug.dvc_deps import pipeline_stages
from medaug.report.stage import run
from pipelines._params import load_params
from medaug.stage_runner import run_stage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    params = load_params(None, args.params)
    run(params, pipeline_stages(Path("dvc.yaml"), params))  # only this pipeline's timings are reported
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main, timed=False))  # the report reads metrics/timings: it must not write there
