"""The ``report`` stage: the pipeline's results for people, as ``results/report.md`` and its figures.

- :mod:`markdown`: the one markdown renderer (tables, numbers, images) every section uses;
- :mod:`tables`, :mod:`plots`, :mod:`statistics`, :mod:`trainsets`: the classifier results;
- :mod:`audit_section`: the audit stage's results;
- :mod:`writer`: the whole report from the other stages' outputs.
"""

from medaug.report.writer import ReportInputError, ReportSettings, ReportSources, write_report
from medaug.report.statistics import PairedDifference, RunSummary, paired_difference, summarize
from medaug.report.trainsets import TrainingSet, training_sets

__all__ = ["PairedDifference", "ReportInputError", "ReportSettings", "ReportSources", "RunSummary", "TrainingSet",
           "paired_difference", "summarize", "training_sets", "write_report"]
