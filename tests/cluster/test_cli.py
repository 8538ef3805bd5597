"""medaug.cluster.cli: ``medaug cluster run``'s options reach the runner, and its exit codes.

The runner itself is replaced here (it is tested on a real local cluster in test_runner.py).
"""

from __future__ import annotations

import pytest

from medaug.cluster import runner
from medaug.cluster.cli import main
from medaug.cluster.runner import ClusterRunError, GridReport
from medaug.cluster.task import StageResult


@pytest.fixture()
def calls(monkeypatch, tmp_path):
    """Run in a folder with a params file; record what the runner is asked to do."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MEDAUG_CLUSTER_ADDRESS", raising=False)
    (tmp_path / "params.yaml").write_text("cluster:\n  workers: 3\n  threads_per_task: 2\n")
    seen = []

    def fake_run(root, targets, settings, keep_going, log):
        seen.append({"root": root, "targets": targets, "settings": settings, "keep_going": keep_going})
        log("cluster: fake stage done")
        return GridReport(ran={"a": StageResult("a", 0, 1.0, "", "h")}, up_to_date=["b", "c"], seconds=2.5)

    monkeypatch.setattr(runner, "run_on_cluster", fake_run)
    return seen


def test_params_then_options_set_the_cluster(calls, capsys):
    assert main(["run"]) == 0
    settings = calls[0]["settings"]
    assert (settings.address, settings.workers, settings.threads_per_task) == (None, 3, 2)
    assert calls[0]["targets"] is None and calls[0]["keep_going"] is False and calls[0]["root"] == "."
    out = capsys.readouterr().out.splitlines()
    assert out == ["cluster: running changed stages on a local cluster of 3 workers", "cluster: fake stage done",
                   "cluster: 1 stage(s) run, 2 up to date, 2.5 s"]
    assert main(["run", "train_vae", "sample@AD", "--workers", "5", "--threads", "1", "--address", "tcp://n:8786",
                 "--keep-going"]) == 0
    settings = calls[1]["settings"]
    assert (settings.address, settings.workers, settings.threads_per_task) == ("tcp://n:8786", 5, 1)
    assert calls[1]["targets"] == ["train_vae", "sample@AD"] and calls[1]["keep_going"] is True
    assert "running changed stages on tcp://n:8786" in capsys.readouterr().out


def test_a_failed_stage_exits_1_with_its_message(calls, monkeypatch, capsys):
    def failing(**kwargs):
        raise ClusterRunError("train_vae@AD", "exit code 2", GridReport())

    monkeypatch.setattr(runner, "run_on_cluster", lambda *args, **kwargs: failing())
    assert main(["run"]) == 1
    assert capsys.readouterr().err.strip() == "error: stage 'train_vae@AD' failed: exit code 2"


def test_a_bad_params_file_or_command_is_refused(calls, tmp_path):
    (tmp_path / "params.yaml").write_text("cluster:\n  worker: 3\n")
    with pytest.raises(ValueError, match=r"cluster: unknown key\(s\) \['worker'\]"):
        main(["run"])
    with pytest.raises(SystemExit):
        main(["walk"])
