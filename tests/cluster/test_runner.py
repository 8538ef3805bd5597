"""The cluster runner on a local Dask cluster that the tests start: a small DVC grid of real commands.

The stages are tiny Python commands in a temporary DVC repository (the real pipeline's grid is the
benchmark's job): a shared upstream stage, a ``foreach`` grid with one parameter per item, a stage
whose first attempt kills its own worker half-way, and a stage that fails on a bad input.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

distributed = pytest.importorskip("distributed")

from medaug.cluster.runner import ClusterRunError, run_on_cluster  # noqa: E402
from medaug.cluster.cli import main as grid_main  # noqa: E402

MAKE = """\
import hashlib, pathlib, sys, yaml
item = sys.argv[1]
size = yaml.safe_load(open("params.yaml"))["grid"]["items"][item]
base = pathlib.Path("base.txt").read_text()
out = pathlib.Path("out") / item
out.mkdir(parents=True)
for k in range(size):
    (out / f"part-{k}.txt").write_text(hashlib.sha256(f"{base}{item}{k}".encode()).hexdigest() * 50)
"""

# First attempt: write half of the output, then kill the worker that runs it (SIGKILL, no clean-up).
CRASH_ONCE = """\
import os, pathlib, signal, time
attempts = pathlib.Path("attempts-crash.txt")
attempts.write_text(attempts.read_text() + "x" if attempts.exists() else "x")
out = pathlib.Path("crash")
out.mkdir()
(out / "half.txt").write_text("half-written")
if len(attempts.read_text()) == 1:
    os.kill(int(os.environ["MEDAUG_GRID_WORKER_PID"]), signal.SIGKILL)
    time.sleep(30)
(out / "half.txt").unlink()
(out / "done.txt").write_text("complete")
"""

BAD_INPUT = """\
import pathlib, sys
attempts = pathlib.Path("attempts-bad.txt")
attempts.write_text(attempts.read_text() + "x" if attempts.exists() else "x")
sys.exit("bad input: subject sub-X has no T1w image")
"""


def _dvc_yaml(extra: str = "") -> str:
    return textwrap.dedent("""\
        stages:
          base:
            cmd: python -c "import pathlib; pathlib.Path('base.txt').write_text('seed-7')"
            outs: [base.txt]
          train:
            foreach: ${grid.items}
            do:
              cmd: python make.py ${key}
              deps: [make.py, base.txt]
              params:
                - grid.items.${key}
              outs:
                - out/${key}:
                    cache: false
        """) + extra


CRASH_STAGE = """\
  crash:
    cmd: python crash.py
    deps: [crash.py]
    outs:
      - crash:
          cache: false
"""

BAD_STAGE = """\
  bad:
    cmd: python bad.py
    deps: [bad.py]
    outs: [bad.txt]
"""


def _make_repo(path: Path, extra_stages: str = "") -> Path:
    path.mkdir()
    subprocess.run(["dvc", "init", "--no-scm", "-q"], cwd=path, check=True, env=_dvc_env())
    (path / "params.yaml").write_text(yaml.safe_dump({"grid": {"items": {"a": 2, "b": 3, "c": 1, "d": 2}}}))
    (path / "make.py").write_text(MAKE)
    (path / "crash.py").write_text(CRASH_ONCE)
    (path / "bad.py").write_text(BAD_INPUT)
    (path / "dvc.yaml").write_text(_dvc_yaml(extra_stages))
    return path


def _dvc_env() -> dict[str, str]:
    return {**os.environ, "DVC_NO_ANALYTICS": "1"}


def _lock_stages(repo: Path) -> dict:
    return yaml.safe_load((repo / "dvc.lock").read_text())["stages"]


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _status(repo: Path, targets: list[str] | None = None) -> dict:
    from dvc.repo import Repo

    with contextlib.chdir(repo), Repo(str(repo)) as dvc_repo:
        return dvc_repo.status(targets)


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes under nannies (a killed worker is restarted)."""
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 2}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=":0") as cluster, distributed.Client(cluster) as cl:
            yield cl


@pytest.fixture(autouse=True)
def _no_analytics(monkeypatch):
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")


def test_grid_matches_serial_repro_and_reruns_only_what_changed(tmp_path, client):
    serial = _make_repo(tmp_path / "serial")
    subprocess.run(["dvc", "repro", "-q"], cwd=serial, check=True, env=_dvc_env())
    grid = _make_repo(tmp_path / "grid")
    report = run_on_cluster(grid, client=client, log=lambda line: None)

    assert set(report.ran) == {"base", "train@a", "train@b", "train@c", "train@d"}
    assert _status(grid) == {}
    assert _tree(grid / "out") == _tree(serial / "out")
    assert _lock_stages(grid) == _lock_stages(serial)  # same hashes, as if dvc repro had run it

    params = yaml.safe_load((grid / "params.yaml").read_text())
    params["grid"]["items"]["b"] = 4
    (grid / "params.yaml").write_text(yaml.safe_dump(params))
    again = run_on_cluster(grid, ["train"], client=client, log=lambda line: None)
    assert set(again.ran) == {"train@b"}
    assert sorted(again.up_to_date) == ["base", "train@a", "train@c", "train@d"]
    assert len(list((grid / "out" / "b").iterdir())) == 4 and _status(grid) == {}


def test_killed_worker_is_retried_and_leaves_nothing_half_written(tmp_path, client):
    repo = _make_repo(tmp_path / "repo", CRASH_STAGE)
    report = run_on_cluster(repo, ["crash"], client=client, log=lambda line: None)
    assert set(report.ran) == {"crash"}
    assert (repo / "attempts-crash.txt").read_text() == "xx"  # died once, retried once
    assert _tree(repo / "crash") == {"done.txt": b"complete"}
    assert _status(repo, ["crash"]) == {}


def test_failing_stage_names_itself_and_is_not_retried(tmp_path, client):
    repo = _make_repo(tmp_path / "repo", BAD_STAGE)
    with pytest.raises(ClusterRunError, match="stage 'bad' failed: exit code 1") as err:
        run_on_cluster(repo, client=client, log=lambda line: None, keep_going=True)
    assert "bad input: subject sub-X has no T1w image" in str(err.value)
    assert (repo / "attempts-bad.txt").read_text() == "x"
    assert set(err.value.report.ran) == {"base", "train@a", "train@b", "train@c", "train@d"}  # keep_going
    assert "bad" not in _lock_stages(repo)
    assert list(_status(repo)) == ["bad"]


def test_command_line_on_a_running_scheduler(tmp_path, client, monkeypatch, capsys):
    repo = _make_repo(tmp_path / "repo")
    monkeypatch.chdir(repo)
    assert grid_main(["run", "train@c", "--address", client.scheduler.address]) == 0
    assert "2 stage(s) run" in capsys.readouterr().out
    assert sorted(_lock_stages(repo)) == ["base", "train@c"]
    monkeypatch.setenv("MEDAUG_CLUSTER_ADDRESS", client.scheduler.address)
    (repo / "make.py").write_text(MAKE + "raise SystemExit('broken on purpose')\n")
    assert grid_main(["run", "train@a"]) == 1
    err = capsys.readouterr().err
    assert "stage 'train@a' failed" in err and "broken on purpose" in err


def test_module_entry_point_help():
    out = subprocess.run([sys.executable, "-m", "medaug.cluster", "run", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "MEDAUG_CLUSTER_ADDRESS" in out.stdout


def _square_with_env(item: int, offset: int) -> tuple[int, str]:
    return item * item + offset, os.environ.get("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS", "")


def _set_itk_threads() -> None:
    os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = "1"


def test_items_fan_out_on_the_cluster_with_a_setup_per_worker(client):
    from medaug.cluster.executor import map_on_cluster

    results = dict(map_on_cluster(client.scheduler.address, _square_with_env, [1, 2, 3, 4], 10, setup=_set_itk_threads))
    assert results == {0: (11, "1"), 1: (14, "1"), 2: (19, "1"), 3: (26, "1")}


@pytest.mark.slow  # each worker loads the template first (about 15 s on 2 busy cores)
def test_preprocessing_sends_one_image_per_task_to_the_cluster(tmp_path, client, monkeypatch):
    from distributed import get_task_stream

    from medaug.preprocess.pool import ImageJob, PreprocessSettings, process_images
    from medaug.preprocess.t1_linear import T1LinearConfig

    monkeypatch.setenv("MEDAUG_CLUSTER_ADDRESS", client.scheduler.address)
    settings = PreprocessSettings(caps_dir=tmp_path / "caps", target_shape=(21, 26, 22),
                                  t1_linear=T1LinearConfig(template_resolution_mm=2, crop_shape=(85, 104, 90)))
    jobs = [ImageJob(f"sub-{i}", "ses-M000", tmp_path / f"missing-{i}.nii.gz") for i in range(3)]
    with get_task_stream(client) as stream:
        outcomes = dict(process_images(jobs, settings, n_jobs=1, itk_threads=1))
    assert sorted(outcomes) == [0, 1, 2]
    assert all(o.status == "error" and f"missing-{i}.nii.gz" in o.error for i, o in outcomes.items())
    assert sum(task["key"].startswith("_run_item") for task in stream.data) == 3


FAN_OUT = """\
import json, os, pathlib
from medaug.cluster.executor import map_on_cluster

def square(item):
    return item * item

results = dict(map_on_cluster(os.environ["MEDAUG_CLUSTER_ADDRESS"], square, [1, 2, 3]))
pathlib.Path("squares.json").write_text(json.dumps([results[i] for i in range(3)]))
"""


def test_fan_out_stage_frees_its_worker_slot_for_its_items(tmp_path):
    """On a one-slot cluster the stage task must leave its slot, or its items could never run."""
    import dask

    project = Path(__file__).resolve().parents[2]  # importable medaug, installed or not
    repo = _make_repo(tmp_path / "repo", f"  preprocess:\n    cmd: env PYTHONPATH={project} python fan_out.py\n"
                                         "    deps: [fan_out.py]\n    outs: [squares.json]\n")
    (repo / "fan_out.py").write_text(FAN_OUT)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                      dashboard_address=":0") as cluster, distributed.Client(cluster) as one_slot:
            report = run_on_cluster(repo, ["preprocess"], client=one_slot, log=lambda line: None)
    assert set(report.ran) == {"preprocess"}
    assert (repo / "squares.json").read_text() == "[1, 4, 9]"
