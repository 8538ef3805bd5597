"""Where each input of the report lies, and how it is rendered, from the whole parameter tree.

The report reads the sections ``classify`` (training sets, test cohorts,
``evaluate.results_dir``/runs.tsv, ``labels``), ``sample`` (``labels``, ``sampler``, ``out_dir``,
``metrics_dir``), ``train_vae`` (``out_dir``, ``metrics_dir``), ``preprocess`` (``out_dir``,
``cohorts``), ``split`` (``metrics``), ``audit`` (``results_dir``, optional) and ``cohort``
(``results_dir``, ``cohorts``; optional: a study on real data has no generated cohort).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from medaug.classify.budget import TrainingBudget
from medaug.classify.labels import ClassLabels
from medaug.classify.train import ClassifierTrainingConfig
from medaug.io import stage_timer_name
from medaug.report.trainsets import training_sets
from medaug.report.writer import ReportSettings, ReportSources
from medaug.synthetic import MONTAGE_NAME, montage_volumes

__all__ = ["budget_text", "report_sources", "report_settings"]


def budget_text(training: Mapping[str, Any]) -> str | None:
    """``classify.training.budget`` in words with the batch size and, where the parameters give one,
    the selection, e.g. ``540 optimisation steps, validation every 18 steps, batches of 8 images;
    kept checkpoint: lowest validation loss, early stopping after 10 validations without
    improvement``; None when the parameters have no budget."""
    if not training.get("budget"):
        return None
    text = TrainingBudget.from_dict(training["budget"]).describe()
    text = f"{text}, batches of {training['batch_size']} images" if "batch_size" in training else text
    if "selection" not in training:
        return text
    keys = ("selection", "smoothing_window", "patience", "min_steps")
    config = ClassifierTrainingConfig.from_dict({k: training[k] for k in keys if k in training})
    return f"{text}; kept checkpoint: {config.selector.describe()}"


def report_sources(params: Mapping[str, Any], stages: Collection[str] | None = None) -> ReportSources:
    """Where each input of the report lies, given the whole parameter tree.

    Only what this parameter tree's pipeline writes is read: the sample metrics of ``sample.labels``
    with ``sample.sampler`` and ``sample.compare_samplers``, and the timings of ``stages`` (DVC stage
    addresses, e.g. ``train_vae@AD``; None: every file in ``report.timings_dir``). Files another
    profile left behind (a researcher's copy keeps the demo's committed metrics) are not listed.
    """
    report, classify, sample = params["report"], params["classify"], params["sample"]
    vae, preprocess = params["train_vae"], params["preprocess"]
    labels = [str(label) for label in sample["labels"]]
    sample_dir, sample_metrics = Path(sample["out_dir"]), Path(sample["metrics_dir"])
    vae_dir, vae_metrics = Path(vae["out_dir"]), Path(vae["metrics_dir"])
    qc_dir = Path(preprocess["out_dir"])
    generated = params.get("cohort") or {}
    per_label_samples = [sample_metrics / f"sample_{label}.json" for label in labels]
    other_samples = [sample_metrics / f"sample_{sampler}_{label}.json"
                     for sampler in sample.get("compare_samplers") or [] for label in labels]
    return ReportSources(
        runs_table=Path(classify["evaluate"]["results_dir"]) / "runs.tsv",
        trainsets=training_sets(classify, str(sample["sampler"])),
        test_cohorts=[str(classify["training_cohort"]), *[str(c) for c in classify.get("external_cohorts") or []]],
        split_metrics=Path(params["split"]["metrics"]),
        qc_tables={c: qc_dir / c / "images.tsv" for c in preprocess["cohorts"]},
        qc_montages={c: qc_dir / c / "qc_montage.png" for c in preprocess["cohorts"]},
        qc_metrics={c: Path(preprocess["metrics_dir"]) / f"{c}.json" for c in preprocess["cohorts"]},
        cohort_montages={c: Path(generated["results_dir"]) / f"{c}_montage.png" for c in generated.get("cohorts") or {}},
        vae_curves={label: (vae_dir / label / "training_curve.tsv", vae_dir / label / "training_curve.png")
                    for label in labels},
        synthetic_montages={label: sample_dir / label / MONTAGE_NAME for label in labels}
        if montage_volumes(sample) > 0 else {},
        sample_metrics=per_label_samples + other_samples,
        vae_metrics={label: vae_metrics / f"{label}.json" for label in labels},
        timings=_timing_files(Path(report["timings_dir"]), stages),
        audit_dir=Path(params["audit"]["results_dir"]) if "audit" in params else None,
        training_budget=budget_text(classify.get("training") or {}),
        classes=ClassLabels.from_params(classify),
    )


def _timing_files(folder: Path, stages: Collection[str] | None) -> list[Path]:
    """``<folder>/<stage>.json`` of each stage in ``stages`` that has one (None: every JSON file there)."""
    if not folder.is_dir():
        return []
    if stages is None:
        return sorted(folder.glob("*.json"))
    names = {stage_timer_name(stage) for stage in stages}
    return sorted(path for path in folder.glob("*.json") if path.stem in names)


def report_settings(report: Mapping[str, Any]) -> ReportSettings:
    """The rendering settings of the ``report`` parameter section (``docs_dir`` optional)."""
    return ReportSettings(confidence=float(report["confidence"]), decimals=int(report["decimals"]),
                          dpi=int(report["dpi"]), panel_size=tuple(float(x) for x in report["panel_size_inches"]),
                          docs_dir=report.get("docs_dir"))
