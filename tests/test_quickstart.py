"""The README's "Augment your own cohort" quickstart, run as written on a quirky BIDS dataset.

The dataset is built here (:mod:`tests.bids.quickstart`): generated heads re-laid as an
OpenNeuro-style dataset (no sessions, ``.nii``, ``acq-`` / ``run-`` / ``rec-`` entities, three
groups in participants.tsv of which one is too small, a participant without a label, a
``.bidsignore``). The commands run in a copy of the repository with the tiny profile as the base
(as CI runs it); only the dataset path of the README is replaced. Minutes: marked slow. The fast
test checks the README section itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.bids.quickstart import DATASET_PLACEHOLDER, README_SECTION, copy_repository, quirky_from_demo, readme_commands

ROOT = Path(__file__).resolve().parents[1]


def test_readme_quickstart_is_at_most_five_commands() -> None:
    commands = readme_commands(ROOT / "README.md")
    assert 1 <= len(commands) <= 5, commands
    assert commands[0].startswith(f"medaug init {DATASET_PLACEHOLDER}")
    assert any(c.startswith("dvc repro") for c in commands)
    assert README_SECTION in (ROOT / "README.md").read_text()


def _tracked_files() -> list[str]:
    done = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def _generated_demo(tmp_path: Path) -> Path:
    from medaug.cohort import CohortConfig, generate_cohorts

    params = yaml.safe_load((ROOT / "profiles" / "tiny.yaml").read_text())["cohort"]
    params["cohorts"] = {"demo-train": params["cohorts"]["demo-train"]}
    generate_cohorts(CohortConfig.from_dict(params), tmp_path / "generated", None, 0, progress=False)
    return tmp_path / "generated" / "demo-train"


def tiny_fresh_clone(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """(repository, environment): the tracked files copied to ``tmp_path/repo`` as a new git
    repository with the tiny profile as params.yaml and no dvc.lock, and the environment that runs
    its commands on one thread with this interpreter's tools first on PATH."""
    repo = copy_repository(ROOT, tmp_path / "repo", _tracked_files())
    shutil.copy(repo / "profiles" / "tiny.yaml", repo / "params.yaml")
    (repo / "dvc.lock").unlink(missing_ok=True)
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PYTHONPATH": str(repo), "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    git = ["git", "-c", "user.email=ci@example.org", "-c", "user.name=ci"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "fresh clone"]):
        subprocess.run(git + command, cwd=repo, check=True, env=env)
    return repo, env


@pytest.mark.slow
def test_quickstart_as_written(tmp_path: Path) -> None:
    dataset = quirky_from_demo(_generated_demo(tmp_path), tmp_path / "quirky")
    repo, env = tiny_fresh_clone(tmp_path)

    ran = []
    for command in readme_commands(ROOT / "README.md"):
        program = command.split()[0]
        if shutil.which(program, path=env["PATH"]) is None:
            assert program == "bids-validator-deno", f"{program} not found"
            continue  # the optional validator; test_derivatives runs it when it is installed
        done = subprocess.run(command.replace(DATASET_PLACEHOLDER, str(dataset)), shell=True, cwd=repo, env=env,
                              capture_output=True, text=True, timeout=3000)
        assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        ran.append((command, done.stdout))

    init_output = ran[0][1]
    assert "left out     (value 'prodromal'): 3 participant(s)" in init_output
    assert "sub-01: no_label" in init_output
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    assert not any(name.startswith("cohort@") for name in lock), "the demo generator ran"
    assert not (repo / "data" / "bids" / "demo-train").exists()
    assert "cohort_bids@quirky" in lock and "derivatives@quirky" in lock

    derivatives = repo / "data" / "derivatives" / "medaug-synthetic"
    description = json.loads((derivatives / "dataset_description.json").read_text())
    assert description["DatasetType"] == "derivative"
    participants = pd.read_csv(derivatives / "participants.tsv", sep="\t")
    assert set(participants["group"]) == {"patient", "control"}
    sidecars = sorted(derivatives.glob("sub-*/anat/*_T1w.json"))
    assert len(sidecars) == len(participants) > 0
    for path in sidecars:
        sidecar = json.loads(path.read_text())
        assert sidecar["Model"]["Type"] and sidecar["Sampler"] and isinstance(sidecar["Seed"], int)
        assert sidecar["Model"]["DVCLockMD5"] and len(sidecar["LatentCode"]) > 0
    bids = pytest.importorskip("bids")
    layout = bids.BIDSLayout(derivatives, validate=False, is_derivative=True)
    assert len(layout.get(suffix="T1w", extension=".nii.gz", desc="synthetic")) == len(participants)
    export = pd.read_csv(repo / "data" / "derivatives" / "train_real_synthetic.tsv", sep="\t")
    assert set(export["origin"]) == {"real", "synthetic"}
