"""Results of the pipeline for people: tables, plots and the markdown report."""

from medaug.evaluate.report import ReportInputError, ReportSettings, ReportSources, write_report
from medaug.evaluate.statistics import PairedDifference, RunSummary, paired_difference, summarize
from medaug.evaluate.trainsets import TrainingSet, training_sets

__all__ = ["PairedDifference", "ReportInputError", "ReportSettings", "ReportSources", "RunSummary", "TrainingSet",
           "paired_difference", "summarize", "training_sets", "write_report"]
