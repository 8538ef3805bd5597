"""The library entry of stage ``cohort@demo`` (medaug.cohort.stage): parameters in, cohorts and
metrics out; a bad parameter stops it before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medaug.cohort import stage
from medaug.cohort.config import CohortConfig, CohortConfigError


def test_the_metrics_go_to_the_metrics_dir():
    assert stage.metrics_path({"metrics_dir": "out/m"}) == Path("out/m/cohort.json")
    assert stage.metrics_path({}) == Path("metrics/cohort.json")


def test_run_generates_with_the_section_and_writes_the_summary(tiny_cohort_params, tmp_path, monkeypatch):
    calls = []

    def fake_generate(config, out_dir, montage_dir, montage_subjects):
        calls.append((config, out_dir, montage_dir, montage_subjects))
        return {"demo-train": {"images": 7}}

    monkeypatch.setattr(stage, "generate_cohorts", fake_generate)
    params = {**tiny_cohort_params, "out_dir": str(tmp_path / "bids"), "results_dir": str(tmp_path / "png"),
              "metrics_dir": str(tmp_path / "metrics"), "montage_subjects": 1}
    assert stage.run(params) == {"demo-train": {"images": 7}}
    (config, out_dir, montage_dir, montage_subjects), = calls
    assert config == CohortConfig.from_dict(params)
    assert (out_dir, montage_dir, montage_subjects) == (params["out_dir"], params["results_dir"], 1)
    assert json.loads((tmp_path / "metrics" / "cohort.json").read_text()) == {"demo-train": {"images": 7}}


def test_a_bad_parameter_names_itself_and_writes_nothing(tiny_cohort_params, tmp_path):
    params = {**tiny_cohort_params, "seed": -3, "out_dir": str(tmp_path / "bids"),
              "results_dir": str(tmp_path / "png"), "metrics_dir": str(tmp_path / "metrics")}
    with pytest.raises(CohortConfigError, match="cohort.seed must be >= 0, got -3"):
        stage.run(params)
    assert list(tmp_path.iterdir()) == []
