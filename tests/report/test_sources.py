"""medaug.report.sources: where each input of the report lies, read from the whole parameter tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from medaug.classify.labels import ClassLabels
from medaug.report.sources import budget_text, report_settings, report_sources
from tests.report.test_writer import COHORTS, LABELS, fake_pipeline


def test_sources_follow_the_parameters(tmp_path: Path) -> None:
    params = fake_pipeline(tmp_path)
    sources = report_sources(params)
    assert sources.runs_table == tmp_path / "results/classify/runs.tsv"
    assert sources.test_cohorts == ["demo-train", "demo-external"]
    assert sources.qc_tables == {c: tmp_path / "data/preprocess" / c / "images.tsv" for c in COHORTS}
    assert sources.cohort_montages["demo-train"] == tmp_path / "results/cohort/demo-train_montage.png"
    assert sources.vae_curves["AD"] == (tmp_path / "data/models/AD/training_curve.tsv",
                                        tmp_path / "data/models/AD/training_curve.png")
    assert sources.synthetic_montages == {label: tmp_path / "data/synthetic" / label / "montage.png" for label in LABELS}
    # the sampler's own metrics first, then those of sample.compare_samplers, each in label order
    assert sources.sample_metrics == [tmp_path / "metrics/sample_CN.json", tmp_path / "metrics/sample_AD.json",
                                      tmp_path / "metrics/sample_prior_CN.json", tmp_path / "metrics/sample_prior_AD.json"]
    assert sources.timings == [tmp_path / "metrics/timings/cohort.json", tmp_path / "metrics/timings/split.json"]
    assert sources.audit_dir is None and sources.classes == ClassLabels("CN", "AD")
    assert sources.training_budget == "432 optimisation steps, validation every 18 steps, batches of 8 images"
    # the thesis' row order: real only, synthetic only, real + synthetic (by sampler, then size)
    assert [s.name for s in sources.trainsets] == ["real-50", "real", "syn-10", "real-syn-10", "real-syn-20",
                                                   "prior-syn-10"]


def test_only_this_pipelines_sample_metrics_and_stage_timings_are_listed(tmp_path: Path) -> None:
    params = fake_pipeline(tmp_path)
    (tmp_path / "metrics/sample_gmm_AD.json").write_text("{}")   # left behind by another profile
    params["sample"]["compare_samplers"] = []
    sources = report_sources(params, stages=["split", "train_vae@AD"])
    assert sources.sample_metrics == [tmp_path / "metrics/sample_CN.json", tmp_path / "metrics/sample_AD.json"]
    assert sources.timings == [tmp_path / "metrics/timings/split.json"]   # cohort.json is no stage of this run


def test_optional_sections_may_be_absent(tmp_path: Path) -> None:
    params = fake_pipeline(tmp_path)
    del params["cohort"]
    params["sample"]["montage_volumes"] = 0
    params["audit"] = {"results_dir": str(tmp_path / "results/audit")}
    params["report"]["timings_dir"] = str(tmp_path / "nowhere")
    sources = report_sources(params)
    assert sources.cohort_montages == {} and sources.synthetic_montages == {} and sources.timings == []
    assert sources.audit_dir == tmp_path / "results/audit"
    assert tmp_path / "results/audit/audit.tsv" in sources.required()


def test_budget_text_in_words_with_the_selection() -> None:
    assert budget_text({}) is None
    assert budget_text({"budget": {"unit": "epochs", "epochs": 100}}) == "100 epochs, validation after each epoch"
    training = {"budget": {"unit": "steps", "steps": 540, "eval_every": 18}, "batch_size": 8,
                "selection": "validation_loss", "patience": 10, "min_steps": 0}
    assert budget_text(training) == ("540 optimisation steps, validation every 18 steps, batches of 8 images; "
                                     "kept checkpoint: lowest validation loss, early stopping after 10 validations "
                                     "without improvement")


def test_report_settings_read_their_types() -> None:
    settings = report_settings({"confidence": "0.9", "decimals": 2.0, "dpi": 80, "panel_size_inches": [3, 2]})
    assert (settings.confidence, settings.decimals, settings.dpi, settings.panel_size) == (0.9, 2, 80, (3.0, 2.0))
    assert settings.docs_dir is None
    with pytest.raises(KeyError, match="dpi"):
        report_settings({"confidence": 0.9, "decimals": 1, "panel_size_inches": [3, 2]})
