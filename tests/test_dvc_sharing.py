"""Push, pull and remote checks on a small DVC repository that uses this project's .dvc/config.

The tiny medaug pipeline goes through the same steps in CI (.ci/sharing_check, after `dvc repro`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from medaug.dvc_remote import RemoteError, check_remote, main

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost",
       "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@localhost"}

DVC_YAML = """\
stages:
  make:
    cmd: python -c "import pathlib; d = pathlib.Path('data/out'); d.mkdir(parents=True); [(d / f'{i}.txt').write_text(str(i)) for i in range(6)]"
    outs:
      - data/out
"""


def run(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "dvc", *args[1:]] if args[0] == "dvc" else list(args)
    result = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture
def repo(tmp_path):
    """A committed git + DVC repo with this project's .dvc/config and one stage run, its remote under tmp_path."""
    repo = tmp_path / "origin" / "repo"
    (repo / ".dvc").mkdir(parents=True)
    run("git", "init", "-q", cwd=repo)
    shutil.copy(ROOT / ".dvc" / "config", repo / ".dvc" / "config")
    shutil.copy(ROOT / ".dvc" / ".gitignore", repo / ".dvc" / ".gitignore")
    (repo / "dvc.yaml").write_text(DVC_YAML)
    run("dvc", "repro", "-q", cwd=repo)
    run("git", "add", "-A", cwd=repo)
    run("git", "commit", "-qm", "run", cwd=repo)
    return repo


def remote_files(remote: Path) -> list[Path]:
    return sorted(p for p in remote.rglob("*") if p.is_file())


def test_default_remote_is_a_folder_beside_the_clone(repo):
    assert check_remote(repo, for_push=True) == f"remote 'local': folder {repo.parent / 'medaug-dvc-remote'}"
    with pytest.raises(RemoteError, match="does not exist.*dvc remote modify --local local url PATH"):
        check_remote(repo)


def test_push_clone_pull_restores_without_rerun_and_interruptions_complete(repo, tmp_path):
    remote = repo.parent / "medaug-dvc-remote"
    run("dvc", "push", "-q", cwd=repo)
    files = remote_files(remote)
    assert len(files) == 7  # six files and the directory listing
    # an interrupted push: the directory listing (uploaded last) and part of the files never arrived
    for path in [p for p in files if p.suffix == ".dir"] + [p for p in files if p.suffix != ".dir"][::2]:
        path.unlink()
    assert "new:" in run("dvc", "status", "--cloud", cwd=repo).stdout
    run("dvc", "push", "-q", cwd=repo)
    assert remote_files(remote) == files

    clone = tmp_path / "origin" / "clone"
    run("git", "clone", "-q", str(repo), str(clone), cwd=tmp_path)
    assert main(["--root", str(clone)]) == 0
    run("dvc", "pull", "-q", cwd=clone)
    assert sorted(p.name for p in (clone / "data" / "out").iterdir()) == [f"{i}.txt" for i in range(6)]
    # an interrupted pull: part of the cache and of the workspace missing
    shutil.rmtree(clone / "data" / "out")
    for path in sorted((clone / ".dvc" / "cache").rglob("*"))[::3]:
        if path.is_file():
            path.unlink()
    run("dvc", "pull", "-q", cwd=clone)
    assert "up to date" in run("dvc", "status", cwd=clone).stdout
    assert "Running stage" not in run("dvc", "repro", cwd=clone).stdout


def test_missing_remote_gives_a_clear_error(repo, tmp_path, capsys):
    missing = tmp_path / "nowhere" / "remote"
    run("dvc", "remote", "modify", "--local", "local", "url", str(missing), cwd=repo)
    assert main(["--root", str(repo)]) == 2
    assert f"the folder {missing}, which does not exist" in capsys.readouterr().err
    run("dvc", "remote", "modify", "--local", "local", "url", "s3://medaug-test/none", cwd=repo)
    if not _has("dvc_s3"):
        with pytest.raises(RemoteError, match=r'pip install "dvc\[s3\]"'):
            check_remote(repo)


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
