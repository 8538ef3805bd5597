"""medaug.dvc_remote: the remote check before a push or pull names the remote and the fix.

The repositories here are a ``.dvc/config`` file and nothing else (no git, no stage run); the push
and pull themselves are tested in test_dvc_sharing.py.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from medaug import dvc_remote
from medaug.dvc_remote import PLUGINS, RemoteError, check_remote, main, remote_url


def _repo(root: Path, config: str) -> Path:
    (root / ".dvc").mkdir(parents=True)
    (root / ".dvc" / "config").write_text("[core]\n    no_scm = true\n" + config)
    return root


def test_remote_url_resolves_a_relative_folder_from_the_config_file(tmp_path):
    repo = _repo(tmp_path / "repo", "    remote = local\n['remote \"local\"']\n    url = ../store\n"
                                    "['remote \"cloud\"']\n    url = s3://bucket/path\n")
    name, url = remote_url(repo)
    assert name == "local" and Path(url) == (repo / "store").resolve()   # relative to .dvc/, where the config lies
    assert remote_url(repo, "cloud") == ("cloud", "s3://bucket/path")
    with pytest.raises(RemoteError, match=r"DVC remote 'other' is not configured; known: local, cloud"):
        remote_url(repo, "other")


def test_without_a_default_remote_the_message_says_how_to_add_one(tmp_path):
    repo = _repo(tmp_path / "repo", "")
    with pytest.raises(RemoteError, match=r"no default DVC remote: set one with `dvc remote add -d NAME URL`"):
        remote_url(repo)
    assert main(["--root", str(repo)]) == 2


@pytest.fixture()
def remote_at(monkeypatch):
    """Make the check see a remote 'shared' at the URL given, without a DVC repository."""
    def set_url(url: str) -> None:
        monkeypatch.setattr(dvc_remote, "remote_url", lambda root=".", name=None: ("shared", url))
    return set_url


def test_a_local_folder_must_exist_unless_a_push_can_create_it(tmp_path, remote_at):
    remote_at(str(tmp_path))
    assert check_remote() == f"remote 'shared': folder {tmp_path}"
    remote_at(f"file://{tmp_path}")
    assert check_remote() == f"remote 'shared': folder {tmp_path}"
    missing = tmp_path / "store"
    remote_at(str(missing))
    with pytest.raises(RemoteError, match=r"the folder .*/store, which does not exist \(nothing was pushed"):
        check_remote()
    assert check_remote(for_push=True) == f"remote 'shared': folder {missing}"
    remote_at(str(tmp_path / "no" / "store"))
    with pytest.raises(RemoteError, match=r"does not exist\. Point it at the shared copy"):
        check_remote(for_push=True)


def test_a_cloud_remote_needs_its_plugin_and_a_known_scheme(remote_at, monkeypatch):
    remote_at("ftp://host/store")
    with pytest.raises(RemoteError, match=r"unknown URL scheme 'ftp': ftp://host/store"):
        check_remote()
    remote_at("gcs://bucket/store")
    found = {"dvc_gs": None}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: found.get(name, object()))
    with pytest.raises(RemoteError, match=r'needs DVC\'s gs plugin: python -m pip install "dvc\[gs\]"'):
        check_remote()
    found["dvc_gs"] = object()
    assert check_remote() == "remote 'shared': gcs://bucket/store"
    assert PLUGINS["https"] == "http" and PLUGINS["webdavs"] == "webdav"


def test_the_command_line_prints_the_remote_or_the_error(tmp_path, remote_at, capsys):
    remote_at(str(tmp_path))
    assert main([]) == 0 and capsys.readouterr().out.strip() == f"remote 'shared': folder {tmp_path}"
    remote_at(str(tmp_path / "absent"))
    assert main(["-r", "shared"]) == 2
    assert capsys.readouterr().err.startswith("error: DVC remote 'shared' is the folder")
