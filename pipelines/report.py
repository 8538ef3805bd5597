"""Stage ``report``: ``results/report.md`` and its figures from the outputs of every other stage.

    python -m pipelines.report [--params params.yaml]

Reads the ``report`` section of params.yaml and, to find the other stages' outputs, the sections
``classify`` (training sets, test cohorts, ``evaluate.results_dir``/runs.tsv), ``sample``
(``labels``, ``sampler``, ``out_dir``, ``metrics_dir``), ``train_vae`` (``out_dir``, ``metrics_dir``),
``preprocess`` (``out_dir``, ``cohorts``), ``split`` (``metrics``) and ``cohort`` (``results_dir``,
``cohorts``; optional: a study on real data has no generated cohort). Writes ``report.out`` and
the folder ``report.figures_dir`` (see :mod:`medaug.evaluate.report`).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medaug.classify.budget import TrainingBudget
from medaug.evaluate import ReportSettings, ReportSources, training_sets, write_report
from pipelines._params import load_params


def budget_text(training: Mapping[str, Any]) -> str | None:
    """``classify.training.budget`` in words with the batch size, e.g. ``540 optimisation steps,
    validation every 18 steps, batches of 8 images``; None when the parameters have no budget."""
    if not training.get("budget"):
        return None
    text = TrainingBudget.from_dict(training["budget"]).describe()
    return f"{text}, batches of {training['batch_size']} images" if "batch_size" in training else text


def report_sources(params: Mapping[str, Any]) -> ReportSources:
    """Where each input of the report lies, given the whole parameter tree."""
    report, classify, sample = params["report"], params["classify"], params["sample"]
    vae, preprocess = params["train_vae"], params["preprocess"]
    labels = [str(label) for label in sample["labels"]]
    sample_dir, sample_metrics = Path(sample["out_dir"]), Path(sample["metrics_dir"])
    vae_dir, vae_metrics = Path(vae["out_dir"]), Path(vae["metrics_dir"])
    qc_dir = Path(preprocess["out_dir"])
    generated = params.get("cohort") or {}
    per_label_samples = [sample_metrics / f"sample_{label}.json" for label in labels]
    other_samples = sorted(set(sample_metrics.glob("sample_*.json")) - set(per_label_samples))
    timings = Path(report["timings_dir"])
    return ReportSources(
        runs_table=Path(classify["evaluate"]["results_dir"]) / "runs.tsv",
        trainsets=training_sets(classify, str(sample["sampler"])),
        test_cohorts=[str(classify["training_cohort"]), *[str(c) for c in classify.get("external_cohorts") or []]],
        split_metrics=Path(params["split"]["metrics"]),
        qc_tables={c: qc_dir / c / "images.tsv" for c in preprocess["cohorts"]},
        qc_montages={c: qc_dir / c / "qc_montage.png" for c in preprocess["cohorts"]},
        cohort_montages={c: Path(generated["results_dir"]) / f"{c}_montage.png" for c in generated.get("cohorts") or {}},
        vae_curves={label: (vae_dir / label / "training_curve.tsv", vae_dir / label / "training_curve.png")
                    for label in labels},
        synthetic_montages={label: sample_dir / label / "montage.png" for label in labels}
        if int(sample.get("montage_volumes", 1)) > 0 else {},
        sample_metrics=per_label_samples + other_samples,
        vae_metrics={label: vae_metrics / f"{label}.json" for label in labels},
        timings=sorted(timings.glob("*.json")) if timings.is_dir() else [],
        audit_dir=Path(params["audit"]["results_dir"]) if "audit" in params else None,
        training_budget=budget_text(classify.get("training") or {}),
    )


def report_settings(report: Mapping[str, Any]) -> ReportSettings:
    return ReportSettings(confidence=float(report["confidence"]), decimals=int(report["decimals"]),
                          dpi=int(report["dpi"]), panel_size=tuple(float(x) for x in report["panel_size_inches"]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    params = load_params(None, args.params)
    if "report" not in params:
        raise KeyError(f"{args.params}: no section 'report'")
    report = params["report"]
    write_report(report_sources(params), report["out"], report["figures_dir"], report_settings(report))
    print(f"wrote {report['out']} and {report['figures_dir']}/")


if __name__ == "__main__":
    main()
