"""Results of the pipeline for people: tables, plots and the markdown report."""

from medaug.evaluate.report import ReportInputError, ReportSettings, ReportSources, write_report
from medaug.evaluate.statistics import RunSummary, summarize
from medaug.evaluate.trainsets import TrainingSet, training_sets

__all__ = ["ReportInputError", "ReportSettings", "ReportSources", "RunSummary", "TrainingSet", "summarize",
           "training_sets", "write_report"]
