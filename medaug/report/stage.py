"""Stage ``report``: ``results/report.md``, its figures and the docs site's results pages, from the
outputs of every other stage.

Inputs: the whole parameter tree. The ``report`` section says where the report goes (``out``,
``figures_dir``) and how it is rendered; :mod:`medaug.report.sources` reads the other stages'
sections to find their outputs. Outputs: see :func:`medaug.report.writer.write_report`.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import Any

from medaug.report.sources import report_settings, report_sources
from medaug.report.writer import write_report

__all__ = ["run"]

logger = logging.getLogger(__name__)


def run(params: Mapping[str, Any], stages: Collection[str] | None = None) -> str:
    """Write the report of the whole parameter tree ``params``; return its markdown.

    ``stages``: the addresses of the pipeline's stages (``train_vae@AD``, ...), whose timings are
    reported; None: every timing in ``report.timings_dir``.

    Raises ``KeyError`` when ``params`` has no ``report`` section, and
    :class:`medaug.report.writer.ReportInputError` (listing every missing file) when another stage's
    output is missing; nothing is written then.
    """
    if "report" not in params:
        raise KeyError(f"no section 'report' in the parameters (found {sorted(params)})")
    report = params["report"]
    text = write_report(report_sources(params, stages), report["out"], report["figures_dir"], report_settings(report))
    logger.info("wrote %s and %s/", report["out"], report["figures_dir"])
    return text
