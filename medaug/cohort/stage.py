"""Stage ``cohort@demo``: generate the demo cohorts as BIDS raw datasets, a montage of each, and the
stage's metrics.

Inputs: the ``cohort`` parameter section (validated by :class:`medaug.cohort.config.CohortConfig`).
Outputs: ``<out_dir>/<cohort>/`` (one BIDS raw dataset per cohort, each written atomically),
``<results_dir>/<cohort>_montage.png`` (``montage_subjects`` participants per label) and
``<metrics_dir>/cohort.json`` (per cohort: role, participants per trajectory, images, median
seconds per image, wall seconds).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medaug.cohort.config import CohortConfig
from medaug.cohort.generate import generate_cohorts
from medaug.io import write_json

__all__ = ["metrics_path", "run"]


def metrics_path(params: Mapping[str, Any]) -> Path:
    """Where stage ``cohort@demo`` writes its metrics: ``<metrics_dir>/cohort.json``."""
    return Path(params.get("metrics_dir", "metrics")) / "cohort.json"


def run(params: Mapping[str, Any]) -> dict[str, Any]:
    """Generate every cohort of the ``cohort`` section; write and return the summary.

    A bad parameter raises :class:`medaug.cohort.config.CohortConfigError` naming it, before anything
    is written.
    """
    config = CohortConfig.from_dict(params)
    summary = generate_cohorts(config, params["out_dir"], params["results_dir"], params["montage_subjects"])
    write_json(summary, metrics_path(params))
    return summary
