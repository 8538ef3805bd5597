"""Stage ``preprocess``: t1-linear on each cohort's baseline T1w images.

Per cohort ``C`` (``params.preprocess.cohorts``), :func:`run` reads ``<bids_dir>/C`` (or, with
``input: caps``, the ``desc-Crop`` images of ``<caps_dir>/C``), writes the CAPS ``<caps_dir>/C`` and
``<out_dir>/C/{images.tsv, model_ready.npy|tsv|json, qc_montage.png}`` and ``<metrics_dir>/C.json``
(counts, images reused from an earlier run, median seconds per image). A bad image does not stop
the others (:mod:`medaug.preprocess.pool`); the stage fails at the end, listing every failed image,
unless ``allow_failures``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from medaug.io import write_json
from medaug.preprocess.caps import write_caps_description
from medaug.preprocess.cohort import preprocess_cohort, run_summary
from medaug.preprocess.jobs import bids_jobs, caps_jobs, read_session_list
from medaug.preprocess.pool import ImageJob, PreprocessSettings

__all__ = ["PreprocessFailure", "cohort_jobs", "run", "run_cohort"]

logger = logging.getLogger(__name__)


class PreprocessFailure(RuntimeError):
    """One or more images failed (the message lists each one) and ``allow_failures`` is false."""


def cohort_jobs(params: Mapping[str, Any], cohort: str) -> list[ImageJob]:
    """The images of ``cohort`` to preprocess, from its BIDS dataset or an existing CAPS (``params.input``)."""
    caps_dir = Path(params["caps_dir"]) / cohort
    sessions = None
    if params.get("sessions_tsv"):
        sessions = read_session_list(str(params["sessions_tsv"]).format(cohort=cohort))
    if params["input"] == "caps":
        return caps_jobs(caps_dir, sessions, params["session_id"])
    if params["input"] == "bids":
        jobs = bids_jobs(Path(params["bids_dir"]) / cohort, sessions, params["session_id"])
        write_caps_description(caps_dir, f"medaug t1-linear CAPS of {cohort}")
        return jobs
    raise ValueError(f"preprocess.input must be 'bids' or 'caps', not {params['input']!r}")


def run_cohort(params: Mapping[str, Any], cohort: str) -> list[str]:
    """Preprocess one cohort; write its outputs and metrics; return the failure messages."""
    jobs = cohort_jobs(params, cohort)
    if not jobs:
        return [f"{cohort}: no {params['session_id']} T1w image found"]
    caps_dir = Path(params["caps_dir"]) / cohort
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


def run(params: Mapping[str, Any], cohorts: Sequence[str] | None = None) -> list[str]:
    """Preprocess ``cohorts`` (default: every cohort of ``params``); return the failure messages.

    Raises :class:`PreprocessFailure` listing them unless ``params["allow_failures"]``.
    """
    # ITK reads its thread count when ants is first imported; n_jobs == 1 runs in this process.
    os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(params["itk_threads"])
    failures = []
    for cohort in cohorts or list(params["cohorts"]):
        failures += run_cohort(params, cohort)
    if failures:
        message = f"{len(failures)} image(s) failed:\n  " + "\n  ".join(failures)
        if not params["allow_failures"]:
            raise PreprocessFailure(message)
        logger.error("%s", message)
    return failures
