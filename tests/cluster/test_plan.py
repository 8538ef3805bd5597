"""The DVC side of a cluster run (medaug.cluster.plan) on a small DVC repository the test writes:
which stages ``dvc repro`` would consider, whether each changed, and recording a run in dvc.lock."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

pytest.importorskip("dvc")

from medaug.cluster.plan import needs_run, open_locked_repo, planned_stages, record, stage_command  # noqa: E402

DVC_YAML = textwrap.dedent("""\
    stages:
      base:
        cmd: python -c "import pathlib; pathlib.Path('base.txt').write_text('seed')"
        outs: [base.txt]
      grid:
        foreach: [a, b]
        do:
          cmd: python make.py ${item}
          deps: [make.py, base.txt]
          outs:
            - ${item}.txt
      keep:
        cmd: python -c "import pathlib; pathlib.Path('log.txt').write_text('kept')"
        outs:
          - log.txt:
              persist: true
    """)

MAKE = "import pathlib, sys\npathlib.Path(f'{sys.argv[1]}.txt').write_text(pathlib.Path('base.txt').read_text())\n"


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=root, check=True,
                   env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    (root / "dvc.yaml").write_text(DVC_YAML)
    (root / "make.py").write_text(MAKE)
    with contextlib.chdir(root):
        yield root


def _names(stages) -> list[str]:
    return [s.addressing for s in stages]


def test_the_plan_puts_upstream_stages_first_and_names_each_ones_upstream(repo):
    with open_locked_repo(repo) as dvc_repo:
        steps, upstream = planned_stages(dvc_repo)
        names = _names(steps)
        assert sorted(names) == ["base", "grid@a", "grid@b", "keep"]
        assert names.index("base") < names.index("grid@a") and names.index("base") < names.index("grid@b")
        by_name = {s.addressing: s for s in steps}
        assert _names(upstream[by_name["grid@a"]]) == ["base"]
        assert upstream[by_name["base"]] == set() and upstream[by_name["keep"]] == set()


def test_a_target_plans_only_it_and_its_upstream_stages(repo):
    with open_locked_repo(repo) as dvc_repo:
        steps, _ = planned_stages(dvc_repo, ["grid@b"])
        assert _names(steps) == ["base", "grid@b"]


def test_a_recorded_stage_lands_in_dvc_lock_and_no_longer_needs_a_run(repo):
    with open_locked_repo(repo) as dvc_repo:
        steps, _ = planned_stages(dvc_repo, ["base"])
        base = steps[0]
        assert needs_run(base)
        command = stage_command(base, threads=3)
        for line in command.commands:
            subprocess.run(line, shell=True, cwd=command.wdir, check=True)
        record(base)
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    assert lock["base"]["outs"][0]["path"] == "base.txt"
    with open_locked_repo(repo) as dvc_repo:
        base = planned_stages(dvc_repo, ["base"])[0][0]
        assert not needs_run(base)
        (repo / "base.txt").write_text("tampered")  # a changed output makes the stage run again
        assert needs_run(base)


def test_the_worker_command_clears_every_output_but_the_persistent_ones(repo):
    with open_locked_repo(repo) as dvc_repo:
        by_name = {s.addressing: s for s in planned_stages(dvc_repo)[0]}
        grid = stage_command(by_name["grid@a"], threads=2)
        assert grid.name == "grid@a" and grid.threads == 2 and len(grid.commands) == 1
        assert grid.commands == ("python make.py a",)
        assert grid.clear == (str(repo / "a.txt"),) and Path(grid.root) == repo
        assert stage_command(by_name["keep"]).clear == ()
