"""A researcher's own labels through the classifier stages: a BIDS dataset whose groups are ``HC`` /
``PD`` (not CN / AD) goes from ``medaug init`` to ``results/report.md`` with ``dvc repro report``
(every stage: t1-linear, one model per label, sampling, train_classifier, evaluate, audit, report),
the tiny profile as the base, as CI runs it. Minutes: marked slow.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.bids.quickstart import copy_repository, quirky_from_demo
from tests.test_quickstart import _generated_demo, tiny_fresh_clone

#: demo trajectories -> the groups of this dataset: HC / PD, and too few "prodromal" (left out by init)
HC_PD = {"AD": "PD", "CN": "HC", "MCI": "prodromal", "CN-MCI": "prodromal", "MCI-AD": "prodromal"}


def _run(command: list[str], repo: Path, env: dict) -> str:
    done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=3000)
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.slow
def test_hc_pd_cohort_runs_the_classifier_stages_to_the_report(tmp_path: Path) -> None:
    dataset = quirky_from_demo(_generated_demo(tmp_path), tmp_path / "hcpd", groups=HC_PD)
    repo, env = tiny_fresh_clone(tmp_path)

    printed = _run(["medaug", "init", str(dataset)], repo, env)
    assert "classifiers: PD (positive) vs HC (negative)" in printed
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert params["classify"]["labels"] == {"negative": "HC", "positive": "PD"}
    assert params["audit"]["labels"] == ["HC", "PD"]
    _run(["dvc", "repro", "report"], repo, env)

    model = json.loads(next((repo / "data" / "classify").glob("*/run-*/model.json")).read_text())
    assert model["labels"] == ["HC", "PD"]
    predictions = pd.read_csv(repo / "results" / "classify" / "predictions.tsv", sep="\t")
    assert "probability_PD" in predictions.columns and set(predictions["predicted"]) <= {"HC", "PD"}
    assert set(predictions["diagnosis"]) == {"HC", "PD"}
    runs = pd.read_csv(repo / "results" / "classify" / "runs.tsv", sep="\t")
    assert {"n_PD", "n_HC"} <= set(runs.columns) and not {"n_AD", "n_CN"} & set(runs.columns)
    audit = pd.read_csv(repo / "results" / "audit" / "audit.tsv", sep="\t")
    assert set(audit["label"]) == {"HC", "PD"}
    report = (repo / "results" / "report.md").read_text()
    assert "sensitivity (PD recall), specificity (HC recall)" in report
    assert "### HC" in report and "### PD" in report
    assert "AD recall" not in report and "CN recall" not in report
    assert "PD-vs-HC classifiers" in (repo / "docs" / "results" / "classifiers.md").read_text()
