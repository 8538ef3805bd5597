"""The ``report`` stage: the pipeline's results for people, as ``results/report.md``, its figures and the docs' results pages.

- :mod:`markdown`: the one markdown renderer (tables, numbers, images) every section uses;
- :mod:`tables`, :mod:`plots`, :mod:`statistics`, :mod:`trainsets`: the classifier results;
- :mod:`audit_section`: the audit stage's results;
- :mod:`writer`: the whole report from the other stages' outputs;
- :mod:`stage`: the stage entry, from the whole parameter tree;
- :mod:`docs_pages`: the docs site's results pages, from the committed metrics.
"""

from medaug.report.writer import ReportInputError, ReportSettings, ReportSources, write_report
from medaug.report.statistics import PairedDifference, RunSummary, paired_difference, summarize
from medaug.report.trainsets import TrainingSet, training_sets

__all__ = ["PairedDifference", "ReportInputError", "ReportSettings", "ReportSources", "RunSummary", "TrainingSet",
           "paired_difference", "summarize", "training_sets", "write_report"]
