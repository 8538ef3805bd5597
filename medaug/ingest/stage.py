"""The ``cohort_bids`` stage: one of the researcher's BIDS datasets as a medaug cohort.

``run(params, cohort=name)`` surveys ``params["bids"][name]`` (:func:`medaug.ingest.source.survey`),
writes the chosen images to ``<out_dir>/<name>`` (:func:`medaug.ingest.source.stage_cohort`) and
returns the summary that the stage script writes as ``<metrics_dir>/cohort_<name>.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medaug.ingest.source import BIDSSource, stage_cohort, survey

__all__ = ["metrics_path", "run"]


def metrics_path(params: Mapping[str, Any], cohort: str) -> Path:
    """Where stage ``cohort_bids@<cohort>`` writes its metrics: ``<metrics_dir>/cohort_<cohort>.json``."""
    return Path(params.get("metrics_dir", "metrics")) / f"cohort_{cohort}.json"


def run(params: Mapping[str, Any], cohort: str) -> dict[str, Any]:
    """Survey and stage one BIDS source of the ``cohort`` parameter section; return its summary."""
    sources = params.get("bids") or {}
    if cohort not in sources:
        raise KeyError(f"cohort.bids has no entry {cohort!r} (found {sorted(sources)})")
    source = BIDSSource.from_params(cohort, sources[cohort])
    found = survey(source)
    return stage_cohort(found, Path(params["out_dir"]) / cohort)
