"""The stage timer (pipelines._timing): one JSON record per successful stage, none for a failed one."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest

from pipelines._timing import stage_timer


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
