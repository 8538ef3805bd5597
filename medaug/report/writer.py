"""The results report: ``report.md`` plus its figures, copied or drawn into one folder beside it.

:class:`ReportSources` names every input file (the stage script resolves them from params.yaml);
:func:`write_report` checks they exist (one error listing every missing file), reads them
(:func:`load_report_data`), draws the balanced-accuracy plot, copies the other PNGs and writes the
markdown (:func:`render`, which reads nothing), all atomically; then the docs site's results pages
(:mod:`medaug.report.docs_pages`). The report holds numbers only.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from medaug.audit.files import SUMMARY_TABLE
from medaug.bids.layout import read_table
from medaug.classify.labels import DEMO_CLASSES, ClassLabels
from medaug.report import markdown as md
from medaug.report.audit_section import AuditResults, audit_markdown, load_audit
from medaug.report import tables
from medaug.report.plots import balanced_accuracy_vs_synthetic
from medaug.report.trainsets import TrainingSet
from medaug.io import atomic_directory, atomic_path

BA_PLOT = "balanced_accuracy_vs_synthetic.png"
QC_COLUMNS = ("participant_id", "session_id", "status", "ncc", "in_model_ready")


@dataclass(frozen=True)
class ReportSources:
    """Every file the report reads, and the classifiers' classes. Mappings are keyed by label (CN, AD) or by cohort name."""

    runs_table: Path                      # results/classify/runs.tsv (stage evaluate)
    trainsets: Sequence[TrainingSet]      # in table order
    test_cohorts: Sequence[str]           # column order: training cohort's test split, then externals
    split_metrics: Path                   # metrics/split.json
    qc_tables: Mapping[str, Path]         # cohort -> data/preprocess/<cohort>/images.tsv
    qc_montages: Mapping[str, Path]       # cohort -> data/preprocess/<cohort>/qc_montage.png
    cohort_montages: Mapping[str, Path]   # cohort -> results/cohort/<cohort>_montage.png
    vae_curves: Mapping[str, tuple[Path, Path]]   # label -> (training_curve.tsv, training_curve.png)
    synthetic_montages: Mapping[str, Path]        # label -> data/synthetic/<label>/montage.png
    sample_metrics: Sequence[Path]        # metrics/sample_*.json
    vae_metrics: Mapping[str, Path] = field(default_factory=dict)  # label -> train_vae metrics (optional)
    timings: Sequence[Path] = ()          # metrics/timings/*.json (optional)
    qc_metrics: Mapping[str, Path] = field(default_factory=dict)  # cohort -> metrics/preprocess/<cohort>.json (optional)
    audit_dir: Path | None = None         # results/audit (stage audit; optional)
    training_budget: str | None = None    # classify.training.budget and selection in words (optional), e.g.
                                          # "at most 1620 optimisation steps, validation every 18 steps, ..."
    classes: ClassLabels = DEMO_CLASSES   # classify.labels: sensitivity is the positive label's recall

    def required(self) -> list[Path]:
        paths = [self.runs_table, self.split_metrics, *self.qc_tables.values(), *self.qc_montages.values(),
                 *self.cohort_montages.values(), *self.synthetic_montages.values(), *self.sample_metrics]
        if self.audit_dir is not None:
            paths.append(Path(self.audit_dir) / SUMMARY_TABLE)
        for tsv, png in self.vae_curves.values():
            paths += [tsv, png]
        return [Path(p) for p in paths]


@dataclass(frozen=True)
class ReportSettings:
    """``report`` parameters: interval level, decimals (percent), figure resolution and panel size, and
    the folder of the docs site's results pages (:mod:`medaug.report.docs_pages`)."""

    confidence: float = 0.95
    decimals: int = 1
    dpi: int = 100
    panel_size: tuple[float, float] = (5.0, 4.0)
    docs_dir: str | None = None     # where the docs site's results pages go (None: not written)


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows, read from the :class:`ReportSources` by :func:`load_report_data`."""

    runs: pd.DataFrame                          # runs.tsv, checked against the training sets and cohorts
    samples: list[dict[str, Any]]               # metrics/sample_*.json, in ``sources.sample_metrics`` order
    vae_curves: dict[str, pd.DataFrame]         # label -> training_curve.tsv
    vae_metrics: dict[str, dict[str, Any]]      # label -> metrics/train_vae/<label>.json (those present)
    qc_images: dict[str, pd.DataFrame]          # cohort -> images.tsv
    qc_runs: dict[str, dict[str, Any]]          # cohort -> metrics/preprocess/<cohort>.json (those present)
    split: dict[str, Any]                       # metrics/split.json
    timings: list[dict[str, Any]]               # metrics/timings/*.json
    audit: AuditResults | None = None           # results/audit (when the sources name it)


class ReportInputError(FileNotFoundError):
    """An input of the report is missing or does not hold what the report needs."""


def check_sources(sources: ReportSources) -> None:
    """Raise :class:`ReportInputError` listing every required input file that is missing."""
    missing = [str(p) for p in sources.required() if not p.is_file()]
    if missing:
        raise ReportInputError("report: missing input file(s) (run the stages that write them first): "
                               + ", ".join(missing))


def read_json(path: Path) -> Any:
    """The JSON document at ``path``; :class:`ReportInputError` naming the file if it is not valid JSON."""
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise ReportInputError(f"{path}: not valid JSON ({err})") from err


def read_runs(path: Path, sets: Sequence[TrainingSet], cohorts: Sequence[str]) -> pd.DataFrame:
    """The evaluate stage's per-run table, checked to cover every training set and test cohort."""
    runs = read_table(path, tables.RUN_COLUMNS)
    runs["trainset"], runs["cohort"] = runs["trainset"].astype(str), runs["cohort"].astype(str)
    absent = [f"{s.name} on {c}" for s in sets for c in cohorts
              if not ((runs["trainset"] == s.name) & (runs["cohort"] == c)).any()]
    if absent:
        raise ReportInputError(f"{path}: no runs for {', '.join(absent)} (rerun stage evaluate with these parameters)")
    return runs


def load_report_data(sources: ReportSources) -> ReportData:
    """Read every input of the report (after :func:`check_sources`)."""
    return ReportData(
        runs=read_runs(sources.runs_table, sources.trainsets, sources.test_cohorts),
        samples=[read_json(p) for p in sources.sample_metrics],
        vae_curves={label: read_table(tsv, ("epoch", "train_elbo")) for label, (tsv, _) in sources.vae_curves.items()},
        vae_metrics={label: read_json(p) for label, p in sources.vae_metrics.items() if Path(p).is_file()},
        qc_images={cohort: read_table(p, QC_COLUMNS) for cohort, p in sources.qc_tables.items()},
        qc_runs={cohort: read_json(p) for cohort, p in sources.qc_metrics.items() if Path(p).is_file()},
        split=read_json(sources.split_metrics),
        timings=[read_json(p) for p in sources.timings],
        audit=load_audit(sources.audit_dir) if sources.audit_dir is not None else None,
    )


def _link(report_path: Path, figures_dir: Path, name: str) -> str:
    return Path(os.path.relpath(figures_dir / name, report_path.parent)).as_posix()


def _paired_section(sources: ReportSources, settings: ReportSettings, runs: pd.DataFrame) -> list[str]:
    """The real-only vs augmented comparison: every augmented set on every test cohort, paired by run."""
    d, level = settings.decimals, f"{100 * settings.confidence:g} %"
    sets, cohorts = list(sources.trainsets), list(sources.test_cohorts)
    run_list = tables.run_indices(runs)
    budget = (f"Training budget (`classify.training.budget`): {sources.training_budget}. "
              if sources.training_budget else "")
    caption = (f"{len(run_list)} runs per training set (runs {', '.join(str(k) for k in run_list)}; run k trains "
               f"with seed `classify.seed` + k), paired by run: same seed, same test images. {budget}"
               f"{tables.effort_statement(runs, sets)}")
    comparison = tables.comparison_table(runs, sets, cohorts, settings.confidence, d)
    out = ["## Real-only vs augmented balanced accuracy", "", caption, "",
           f"Mean balanced accuracy with its {level} t interval over runs; `difference` is the mean of "
           f"the per-run differences (augmented − real-only) with its {level} paired t interval "
           "(t on n − 1 degrees of freedom, n paired runs). Every augmented training set is listed "
           "for every test cohort, whatever its result.", ""]
    if not len(comparison):
        return out + ["No augmented training set has a real-only baseline on the same split.", ""]
    out += [md.table(comparison), ""]
    out += ["Per-run differences, augmented − real-only balanced accuracy in percentage points "
            f"({len(run_list)} runs; `n/a`: one side lacks that run).", "",
            md.table(tables.paired_runs_table(runs, sets, cohorts, settings.confidence, d)), ""]
    return out


def _convergence_section(runs: pd.DataFrame, sets: Sequence[TrainingSet]) -> list[str]:
    """Where each set's kept checkpoints lie in the step budget (kept / stopped / cap steps)."""
    out = ["## Classifier convergence", ""]
    if not tables.has_convergence(runs):
        return out + ["The runs table records no kept and stopped steps (columns `kept_step`, `stopped_step`).", ""]
    return out + ["Per training set: the validation criterion that chose the kept checkpoint, the step cap, "
                  "the kept and the stopped step over runs, how many runs stopped early (no better "
                  "validation for `patience` validations), how many kept a checkpoint in the last 20 % "
                  "of the cap (not clearly converged: a larger cap may change them) and how many are at "
                  "chance (their kept checkpoint's real-validation balanced accuracy is at most "
                  "`classify.evaluate.chance_balanced_accuracy`: stuck runs, counted in the means).", "",
                  md.table(tables.convergence_table(runs, sets)), ""]


def render(sources: ReportSources, settings: ReportSettings, data: ReportData, figure: dict[str, str]) -> str:
    """The markdown text of data already read; ``figure`` maps figure keys to links relative to the report."""
    d = settings.decimals
    level = f"{100 * settings.confidence:g} %"
    sets, cohorts, runs = list(sources.trainsets), list(sources.test_cohorts), data.runs
    out = ["# medaug results report", ""]
    out += ["How to read this: every classifier metric is in percent, computed on the test cohorts "
            f"({', '.join(cohorts)}); the training cohort's column is its held-out test split. "
            "`mean ± sd` is over runs (sd with ddof=1); a run is one training seed. Intervals are "
            f"two-sided {level} Student t intervals of the mean over runs (mean ± t·sd/√n). "
            "This report holds numbers only; the docs site's results pages say what they show.", ""]

    out += ["## Classification results", "",
            "Rows: real; synthetic n; real + synthetic n (n synthetic images per label, sampler in "
            f"brackets). Columns per test cohort: sensitivity ({sources.classes.positive} recall), specificity "
            f"({sources.classes.negative} recall), balanced accuracy; then the optimisation (Adam) step cap (or, "
            "for runs that did not record one, the steps each run took) and the number of runs. "
            + (f"Training budget: {sources.training_budget}." if sources.training_budget else ""), "",
            md.table(tables.results_table(runs, sets, cohorts, d)), ""]

    out += _convergence_section(runs, sets)
    out += _paired_section(sources, settings, runs)
    out += [md.image("balanced accuracy against the number of synthetic images", figure["ba"]), ""]

    out += ["## Synthetic volumes", ""]
    for label in sources.synthetic_montages:
        out += [f"### {label}: real vs synthetic", "", md.image(f"{label} real vs synthetic", figure[f"syn:{label}"]), ""]
    out += ["### Samplers", "", md.table(tables.sampler_table(data.samples, d)), ""]

    if data.audit is not None:
        out += [audit_markdown(data.audit, link_prefix=figure["audit"], heading_level=2), ""]

    out += ["## Generative model training", "", md.table(tables.vae_table(data.vae_curves, data.vae_metrics, d)), ""]
    for label in sources.vae_curves:
        out += [f"### {label}", "", md.image(f"{label} training curve", figure[f"vae:{label}"]), ""]

    flagged = tables.flagged_images(data.qc_images, d)
    out += ["## Preprocessing quality control", "",
            "NCC: normalised cross-correlation with the template inside its brain mask.", "",
            md.table(tables.qc_table(data.qc_images, d, data.qc_runs)), ""]
    out += ["Flagged or failed images:", "", md.table(flagged) if len(flagged) else "None.", ""]
    for cohort in sources.qc_montages:
        out += [f"### {cohort}", "", md.image(f"{cohort} QC montage", figure[f"qc:{cohort}"]), ""]

    out += ["## Cohorts and splits", "", "Participants per split and label.", "",
            md.table(tables.split_table(data.split)), ""]
    for cohort in sources.cohort_montages:
        out += [f"### {cohort}", "", md.image(f"{cohort} montage", figure[f"cohort:{cohort}"]), ""]

    timing_frame, total, elapsed = tables.timing_table(data.timings, d)
    out += ["## Run time", ""]
    if len(timing_frame):
        out += ["Wall time of each stage (this report's own stage is not included).", "",
                md.table(timing_frame), "",
                f"Sum over stages: {md.number(total, d)} s ({md.number(total / 60.0, d)} min); "
                f"first start to last finish: {md.number(elapsed, d)} s"
                + (f" ({md.number(elapsed / 60.0, d)} min)." if elapsed is not None else "."), ""]
    else:
        out += ["No stage timing recorded.", ""]
    return "\n".join(out)


def write_report(sources: ReportSources, report_path: str | os.PathLike, figures_dir: str | os.PathLike,
                 settings: ReportSettings = ReportSettings()) -> str:
    """Write ``report_path``, the folder ``figures_dir`` (replaced as a whole) and, when
    ``settings.docs_dir`` is set, the docs site's results pages; return the report's markdown."""
    check_sources(sources)
    report_path, figures_dir = Path(report_path), Path(figures_dir)
    data = load_report_data(sources)
    copies = {**{f"syn:{k}": (p, f"synthetic_montage_{k}.png") for k, p in sources.synthetic_montages.items()},
              **{f"vae:{k}": (png, f"vae_training_curve_{k}.png") for k, (_, png) in sources.vae_curves.items()},
              **{f"qc:{k}": (p, f"qc_montage_{k}.png") for k, p in sources.qc_montages.items()},
              **{f"cohort:{k}": (p, f"cohort_montage_{k}.png") for k, p in sources.cohort_montages.items()}}
    figure = {key: _link(report_path, figures_dir, name) for key, (_, name) in copies.items()}
    figure["ba"] = _link(report_path, figures_dir, BA_PLOT)
    if sources.audit_dir is not None:
        figure["audit"] = os.path.relpath(sources.audit_dir, report_path.parent)
    with atomic_directory(figures_dir) as tmp:
        for source, name in copies.values():
            shutil.copyfile(source, tmp / name)
        balanced_accuracy_vs_synthetic(data.runs, sources.trainsets, sources.test_cohorts, tmp / BA_PLOT,
                                       settings.dpi, settings.panel_size)
        text = render(sources, settings, data, figure)
    with atomic_path(report_path) as tmp:
        tmp.write_text(text)
    if settings.docs_dir is not None:
        from medaug.report.docs_pages import results_data, results_pages, write_results_pages  # here: python -m runs it as __main__

        write_results_pages(results_pages(results_data(sources, data), settings), settings.docs_dir)
    return text
