"""Indexing any BIDS raw dataset with pybids: entities, extensions, sessions, .bidsignore."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("bids")

from medaug.bids.index import bidsignore_patterns, index_t1w  # noqa: E402
from medaug.bids.layout import BIDSError  # noqa: E402
from tests.bids.fixtures import write_bids  # noqa: E402


@pytest.mark.parametrize("sessions, extension", [(False, ".nii"), (True, ".nii.gz")])
def test_index_reads_entities_with_and_without_sessions(tmp_path: Path, sessions: bool, extension: str) -> None:
    files = write_bids(tmp_path, sessions=sessions, extension=extension)
    table = index_t1w(tmp_path)
    assert len(table) == sum(len(f) for f in files.values())
    assert "sub-ignored" not in set(table["participant_id"])           # .bidsignore'd folder
    assert set(table["extension"]) == {extension}
    first = table[table["participant_id"] == "sub-001"]
    assert list(first["acquisition"]) == ["mprage", "mprage"] and list(first["run"]) == [1, 2]
    assert set(table[table["participant_id"] == "sub-002"]["reconstruction"].dropna()) == {"norm"}
    assert table["session_id"].isna().all() != sessions


def test_bidsignore_globs(tmp_path: Path) -> None:
    (tmp_path / ".bidsignore").write_text("# comment\nsub-x/\n*.log\nextra/**/deep\n")
    patterns = bidsignore_patterns(tmp_path)

    def ignored(path: str) -> bool:
        return any(p.match(path) for p in patterns)

    assert ignored("/sub-x") and ignored("sub-x/anat/sub-x_T1w.nii.gz")
    assert not ignored("sub-xy/anat/sub-xy_T1w.nii.gz")
    assert ignored("sub-01/anat/run.log") and not ignored("sub-01/anat/run.log.nii")
    assert ignored("extra/a/b/deep") and not ignored("other/extra/a/deep")
    assert all(isinstance(p, re.Pattern) for p in patterns)


def test_not_a_dataset_is_named(tmp_path: Path) -> None:
    with pytest.raises(BIDSError, match="dataset_description.json"):
        index_t1w(tmp_path)
