"""The whole pipeline, tiny profile, in a copy of the repository: ``dvc repro`` must produce every
declared output and finite metrics. Minutes of CPU: marked slow (run with ``pytest -m slow``)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROFILE = "profiles/tiny.yaml"
OUTPUT_FOLDERS = ("data", "metrics", "results")   # stage outputs of a previous run are not copied
NOT_COPIED = ("dvc.lock",)                        # the tiny run starts from nothing
STAGES = ("cohort", "split", "preprocess", "train_vae", "sample", "train_classifier", "evaluate", "report")
REPRO_TIMEOUT_S = 30 * 60                         # the goal for the tiny profile is 5 minutes


def repository_files(repo: Path) -> list[str]:
    """Files git tracks, plus the untracked ones it does not ignore (work not yet committed)."""
    if shutil.which("git") is None or not (repo / ".git").exists():
        pytest.skip(f"{repo} is not a git checkout: cannot tell its files from generated ones")
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo,
                             check=True, capture_output=True).stdout.decode().split("\0")
    return [name for name in listing if name and name not in NOT_COPIED
            and name.split("/", 1)[0] not in OUTPUT_FOLDERS and (repo / name).is_file()]


def copy_repository(repo: Path, destination: Path) -> None:
    for name in repository_files(repo):
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / name, target)
    (destination / "data").mkdir(exist_ok=True)


def run(command: list[str], cwd: Path, timeout: float | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (f"{' '.join(command)} failed ({result.returncode}):\n"
                                    f"{result.stdout[-6000:]}\n{result.stderr[-6000:]}")
    return result


def declared_outputs(workdir: Path) -> dict[str, list[Path]]:
    """Stage name (``foreach`` / ``matrix`` expanded by DVC itself) -> its outs, metrics and plots."""
    script = ("import json\nfrom dvc.repo import Repo\nrepo = Repo('.')\n"
              "print(json.dumps({s.addressing: [str(o.fs_path) for o in s.outs] for s in repo.index.stages}))")
    listing = json.loads(run([sys.executable, "-c", script], workdir).stdout.strip().splitlines()[-1])
    return {stage: [Path(p) for p in paths] for stage, paths in listing.items()}


def numbers(node, where: str):
    """Every number in a JSON tree, with its location; null (an undefined metric) is not a number."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from numbers(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from numbers(value, f"{where}[{index}]")
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield where, float(node)


def non_finite_metrics(metrics_dir: Path) -> list[str]:
    bad = []
    for path in sorted(metrics_dir.rglob("*.json")):
        # NaN / Infinity are not JSON, but Python writes them; read them as numbers to catch them
        tree = json.loads(path.read_text(), parse_constant=float)
        bad += [f"{where} = {value}" for where, value in numbers(tree, str(path.relative_to(metrics_dir)))
                if not math.isfinite(value)]
    return bad


@pytest.mark.slow
def test_tiny_profile_end_to_end(tmp_path: Path) -> None:
    workdir = tmp_path / "medaug"
    copy_repository(REPO, workdir)
    shutil.copyfile(workdir / PROFILE, workdir / "params.yaml")
    run(["git", "init", "-q"], workdir)
    if not (workdir / ".dvc").is_dir():
        run([sys.executable, "-m", "dvc", "init", "-q"], workdir)

    run([sys.executable, "-m", "dvc", "repro"], workdir, timeout=REPRO_TIMEOUT_S)

    outputs = declared_outputs(workdir)
    missing = [f"{stage}: {path}" for stage, paths in outputs.items() for path in paths if not path.exists()]
    assert not missing, "declared outputs not produced:\n" + "\n".join(missing)
    status = json.loads(run([sys.executable, "-m", "dvc", "status", "--json"], workdir).stdout or "{}")
    assert status == {}, f"dvc status after repro is not clean: {status}"

    metrics_dir = workdir / "metrics"
    assert any(metrics_dir.rglob("*.json")), f"{metrics_dir}: no metrics written"
    bad = non_finite_metrics(metrics_dir)
    assert not bad, "non-finite metrics:\n" + "\n".join(bad)

    report = workdir / "results" / "report.md"
    assert report.is_file() and "## Classification results" in report.read_text()
    wired = {name.split("@")[0] for name in outputs}
    assert set(STAGES) <= wired, f"dvc.yaml lacks stage(s) {sorted(set(STAGES) - wired)}"
