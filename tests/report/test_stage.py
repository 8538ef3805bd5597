"""The library entry of stage ``report`` (medaug.report.stage): the whole parameter tree in, the
report, its figures and the docs' results pages out."""

from __future__ import annotations

from pathlib import Path

import pytest

from medaug.report.stage import run
from medaug.report.writer import ReportInputError
from tests.report.test_writer import fake_pipeline


def test_run_writes_the_report_it_returns(tmp_path):
    params = fake_pipeline(tmp_path)
    text = run(params)
    assert Path(params["report"]["out"]).read_text() == text
    assert text.startswith("#") and "Classification results" in text
    assert any(Path(params["report"]["figures_dir"]).glob("*.png"))


def test_parameters_without_a_report_section_are_refused_by_name(tmp_path):
    params = fake_pipeline(tmp_path)
    del params["report"]
    with pytest.raises(KeyError, match="no section 'report' in the parameters"):
        run(params)


def test_a_missing_input_is_named_and_nothing_is_written(tmp_path):
    params = fake_pipeline(tmp_path)
    runs = Path(params["classify"]["evaluate"]["results_dir"]) / "runs.tsv"
    runs.unlink()
    with pytest.raises(ReportInputError, match="runs.tsv"):
        run(params)
    assert not Path(params["report"]["out"]).exists() and not Path(params["report"]["figures_dir"]).exists()


def test_files_another_profile_left_behind_are_not_reported(tmp_path):
    """A researcher's copy keeps the demo's committed metrics: only this pipeline's files are read."""
    from medaug.io import write_json
    from medaug.report.sources import report_sources

    params = fake_pipeline(tmp_path)
    timings = Path(params["report"]["timings_dir"])
    write_json({"stage": "train_vae@AD", "seconds": 9.0}, timings / "train_vae@AD.json")
    leftover_sample = Path(params["sample"]["metrics_dir"]) / "sample_prior_OTHER.json"
    write_json({"label": "OTHER"}, leftover_sample)
    sources = report_sources(params, stages=["cohort", "split"])
    assert sorted(p.stem for p in sources.timings) == ["cohort", "split"]
    assert leftover_sample not in sources.sample_metrics
    assert [p.stem for p in report_sources(params, stages=None).timings] == ["cohort", "split", "train_vae@AD"]
