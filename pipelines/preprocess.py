"""Stage ``preprocess``: t1-linear on each cohort's baseline T1w images (see ``medaug.preprocess``).

    python -m pipelines.preprocess [--cohort NAME] [--params params.yaml]

Per cohort ``C`` (``params.preprocess.cohorts``): reads ``<bids_dir>/C`` (or, with ``input: caps``,
the ``desc-Crop`` images of ``<caps_dir>/C``), writes the CAPS ``<caps_dir>/C`` and
``<out_dir>/C/{images.tsv, model_ready.npy|tsv|json, qc_montage.png}`` and ``<metrics_dir>/C.json``
(counts, images reused from an earlier run, median seconds per image). Exits 1 listing the failed
images unless ``allow_failures``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from pipelines._params import load_params
from pipelines._runner import run_stage

logger = logging.getLogger("pipelines.preprocess")


def run_cohort(params: dict, cohort: str) -> list[str]:
    """Preprocess one cohort; return the failure messages."""
    from medaug.preprocess.caps import write_caps_description
    from medaug.io import write_json
    from medaug.preprocess.cohort import preprocess_cohort, run_summary
    from medaug.preprocess.jobs import bids_jobs, caps_jobs, read_session_list
    from medaug.preprocess.run import PreprocessSettings

    caps_dir = Path(params["caps_dir"]) / cohort
    sessions = None
    if params.get("sessions_tsv"):
        sessions = read_session_list(str(params["sessions_tsv"]).format(cohort=cohort))
    if params["input"] == "caps":
        jobs = caps_jobs(caps_dir, sessions, params["session_id"])
    elif params["input"] == "bids":
        jobs = bids_jobs(Path(params["bids_dir"]) / cohort, sessions, params["session_id"])
        write_caps_description(caps_dir, f"medaug t1-linear CAPS of {cohort}")
    else:
        raise ValueError(f"preprocess.input must be 'bids' or 'caps', not {params['input']!r}")
    if not jobs:
        return [f"{cohort}: no {params['session_id']} T1w image found"]
    table = preprocess_cohort(
        jobs, PreprocessSettings.from_params(params, caps_dir), Path(params["out_dir"]) / cohort,
        n_jobs=int(params["n_jobs"]), itk_threads=int(params["itk_threads"]),
        qc_threshold=float(params["qc_ncc_threshold"]), exclude_flagged=bool(params["exclude_qc_flagged"]),
        head_fit_threshold=float(params["qc_head_fit_threshold"]), name=cohort,
    )
    summary = run_summary(table)
    write_json(summary, Path(params["metrics_dir"]) / f"{cohort}.json")
    logger.info("%s: %d images, %s, %d reused, median %s s/image", cohort, summary["images"], summary["status"],
                summary["reused"], summary["median_seconds_per_image"])
    return [str(e) for e in table.loc[table["status"] == "error", "error"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", action="append", help="cohort to run (default: every cohort in params)")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    params = load_params("preprocess", args.params)
    # Before ants is imported anywhere in this process (n_jobs == 1 runs here).
    os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(params["itk_threads"])
    failures = []
    for cohort in args.cohort or list(params["cohorts"]):
        failures += run_cohort(params, cohort)
    if failures:
        logger.error("%d image(s) failed:\n  %s", len(failures), "\n  ".join(failures))
        if not params["allow_failures"]:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
