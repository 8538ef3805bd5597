"""medaug.bids.layout: the paths and tables of a BIDS raw dataset, with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from medaug.bids.layout import (
    BIDSError,
    participants_path,
    read_participants,
    read_sessions,
    read_table,
    sessions_path,
    t1w_path,
)


def test_paths_follow_the_clinica_layout(tmp_path: Path) -> None:
    assert participants_path(tmp_path) == tmp_path / "participants.tsv"
    assert sessions_path(tmp_path, "sub-01") == tmp_path / "sub-01" / "sub-01_sessions.tsv"
    assert t1w_path(tmp_path, "sub-01", "ses-M000").relative_to(tmp_path).as_posix() == \
        "sub-01/ses-M000/anat/sub-01_ses-M000_T1w.nii.gz"


def test_read_table_keeps_ids_as_text_and_reads_n_a_as_missing(tmp_path: Path) -> None:
    path = tmp_path / "participants.tsv"
    path.write_text("participant_id\tsession_id\tage\tMMSE\n001\t01\t70.5\tn/a\n002\t02\tn/a\t28\n")
    frame = read_table(path, ("participant_id", "age"))
    assert list(frame["participant_id"]) == ["001", "002"] and list(frame["session_id"]) == ["01", "02"]
    assert frame["age"].isna().tolist() == [False, True] and frame["MMSE"].isna().tolist() == [True, False]
    assert frame["age"].iloc[0] == 70.5


def test_a_missing_column_names_the_file_and_the_columns_found(tmp_path: Path) -> None:
    (tmp_path / "participants.tsv").write_text("participant_id\tsex\nsub-01\tF\n")
    with pytest.raises(BIDSError, match=r"participants.tsv: missing column\(s\) \['diagnosis'\]; found "
                                        r"\['participant_id', 'sex'\]"):
        read_participants(tmp_path, ("participant_id", "diagnosis"))
    assert list(read_participants(tmp_path)["sex"]) == ["F"]


def test_a_missing_empty_or_binary_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(BIDSError, match=r"sub-01_sessions.tsv: file not found"):
        read_sessions(tmp_path, "sub-01")
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    with pytest.raises(BIDSError, match=r"empty.tsv: cannot be read as a TSV table"):
        read_table(empty)
    binary = tmp_path / "binary.tsv"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 50)
    with pytest.raises(BIDSError, match=r"binary.tsv: cannot be read as a TSV table"):
        read_table(binary)


def test_read_sessions_needs_the_session_id(tmp_path: Path) -> None:
    (tmp_path / "sub-01").mkdir()
    sessions_path(tmp_path, "sub-01").write_text("session\tdiagnosis\nses-M000\tCN\n")
    with pytest.raises(BIDSError, match=r"sub-01/sub-01_sessions.tsv: missing column\(s\) \['session_id'\]"):
        read_sessions(tmp_path, "sub-01")
