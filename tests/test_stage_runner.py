"""The stage runner (medaug.stage_runner): one exit code for every failure, messages through logging,
a timing record only for a successful run under ``dvc repro``, written by the stage timer (one JSON
record per successful stage, none for a failed one)."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from pathlib import Path

import pytest

from medaug.stage_runner import FAILURE, run_stage, stage_timer


@pytest.fixture
def in_dvc(monkeypatch, tmp_path):
    """Run as ``dvc repro`` runs a stage: ``DVC_STAGE`` set, timings under ``tmp_path/metrics``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DVC_STAGE", "train_vae@AD")
    return tmp_path / "metrics" / "timings" / "train_vae@AD.json"


def test_success_returns_zero_and_writes_the_timing(in_dvc):
    assert run_stage(lambda: None) == 0
    assert run_stage(lambda: 0) == 0
    record = json.loads(in_dvc.read_text())
    assert record["stage"] == "train_vae@AD" and record["seconds"] >= 0


@pytest.mark.parametrize("error", [ValueError("train_vae.model: unknown"), KeyError("params.yaml: no section"),
                                   FileNotFoundError("data/x.npy"), RuntimeError("non-finite loss")])
def test_any_exception_is_one_logged_line_and_exit_code_one(in_dvc, caplog, error):
    def main():
        raise error

    with caplog.at_level(logging.ERROR, logger="pipelines"):
        assert run_stage(main) == FAILURE == 1
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 1
    assert "train_vae@AD" in failures[0].getMessage() and type(error).__name__ in failures[0].getMessage()
    assert str(error.args[0]) in failures[0].getMessage()
    assert not in_dvc.exists()  # a failed run leaves no timing


@pytest.mark.parametrize("code", [1, 2])
def test_a_non_zero_return_is_the_same_failure(in_dvc, caplog, code):
    with caplog.at_level(logging.ERROR, logger="pipelines"):
        assert run_stage(lambda: code) == FAILURE
    assert f"exit code {code}" in caplog.text and not in_dvc.exists()


def test_an_untimed_stage_writes_no_timing(in_dvc):
    assert run_stage(lambda: 0, timed=False) == 0
    assert not in_dvc.exists()


def test_outside_dvc_nothing_is_timed(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_STAGE", raising=False)
    assert run_stage(lambda: 0) == 0
    assert list(tmp_path.iterdir()) == []


def test_every_stage_script_ends_through_the_runner():
    root = Path(__file__).resolve().parents[1] / "pipelines"
    stages = [p for p in root.glob("*.py") if not p.name.startswith("_")]
    assert stages, root
    for path in stages:
        assert "sys.exit(run_stage(main" in path.read_text(), f"{path}: does not end with sys.exit(run_stage(main))"


def test_stage_timer_context_and_decorator(tmp_path: Path) -> None:
    path = tmp_path / "timings" / "{name}.json"
    with stage_timer("train_vae@AD", path) as timer:
        time.sleep(0.05)
    record = json.loads((tmp_path / "timings" / "train_vae@AD.json").read_text())
    assert record["stage"] == "train_vae@AD" and 0.05 <= record["seconds"] < 5 and timer.seconds >= 0.05
    assert datetime.fromisoformat(record["finished"]) >= datetime.fromisoformat(record["started"])

    @stage_timer("evaluate", path)
    def stage() -> str:
        return "done"

    assert stage() == "done" and (tmp_path / "timings" / "evaluate.json").is_file()


def test_stage_timer_writes_nothing_when_the_stage_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with stage_timer("split", tmp_path / "{name}.json"):
            raise RuntimeError("stage failed")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="invalid stage name"):
        stage_timer("a/b")
