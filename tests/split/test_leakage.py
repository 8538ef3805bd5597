"""The leakage guard catches planted leaks and names the participants."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from medaug.split.leakage import LeakageError, check_no_leakage, check_split_directories, read_split_directory


def table(*ids: str) -> pd.DataFrame:
    return pd.DataFrame({"participant_id": list(ids), "session_id": "ses-M000", "diagnosis": "CN"})


def clean_splits() -> dict[str, pd.DataFrame]:
    return {
        "test": table("sub-01", "sub-02"),
        "train": table("sub-03", "sub-04", "sub-05", "sub-06"),
        "validation": table("sub-07"),
        "train-50": table("sub-03", "sub-05"),
    }


def test_clean_splits_pass() -> None:
    assert check_no_leakage(clean_splits(), {"aibl": table("sub-A1", "sub-A2")}) is None
    # the same cohorts with one external participant planted in train do not pass
    with pytest.raises(LeakageError, match="external test set 'aibl': sub-04"):
        check_no_leakage(clean_splits(), {"aibl": table("sub-A1", "sub-04")})


def test_participant_in_test_and_train_is_named() -> None:
    splits = clean_splits()
    splits["train"] = table("sub-03", "sub-04", "sub-05", "sub-06", "sub-02")
    with pytest.raises(LeakageError, match=r"in both 'test' and 'train': sub-02$"):
        check_no_leakage(splits)


def test_every_leak_is_reported_at_once() -> None:
    splits = clean_splits()
    splits["validation"] = table("sub-07", "sub-04", "sub-01")
    with pytest.raises(LeakageError) as err:
        check_no_leakage(splits)
    message = str(err.value)
    assert "in both 'test' and 'validation': sub-01" in message
    assert "in both 'train' and 'validation': sub-04" in message


def test_subset_outside_its_parent_is_a_leak() -> None:
    splits = clean_splits()
    splits["train-50"] = table("sub-03", "sub-07")  # sub-07 is a validation participant
    with pytest.raises(LeakageError, match=r"in 'train-50' but not in its parent 'train': sub-07"):
        check_no_leakage(splits)


def test_subset_needs_its_parent() -> None:
    splits = clean_splits()
    del splits["train"]
    with pytest.raises(LeakageError, match="without its parent split 'train'"):
        check_no_leakage(splits)


@pytest.mark.parametrize("training_split", ["train", "validation", "train-50"])
def test_external_participant_in_a_training_split_is_named(training_split: str) -> None:
    splits = clean_splits()
    splits[training_split] = pd.concat([splits[training_split], table("sub-A2")])
    if training_split == "train-50":
        splits["train"] = pd.concat([splits["train"], table("sub-A2")])
    with pytest.raises(LeakageError, match=rf"in training split '{training_split}' and external test set 'aibl': sub-A2"):
        check_no_leakage(splits, {"aibl": table("sub-A1", "sub-A2")})


def test_external_participant_in_the_test_split_is_allowed() -> None:
    assert check_no_leakage(clean_splits(), {"aibl": table("sub-01")}) is None
    # while the same participant in a training split is a leak
    with pytest.raises(LeakageError, match="external test set 'aibl': sub-03"):
        check_no_leakage(clean_splits(), {"aibl": table("sub-01", "sub-03")})


def test_several_sessions_of_one_participant_in_one_split_are_not_a_leak() -> None:
    splits = clean_splits()
    second_session = table("sub-03").assign(session_id="ses-M012")
    splits["train"] = pd.concat([splits["train"], second_session])
    assert check_no_leakage(splits) is None
    # while that second session in another split is a leak
    splits["validation"] = pd.concat([splits["validation"], second_session])
    with pytest.raises(LeakageError, match="in both 'train' and 'validation': sub-03"):
        check_no_leakage(splits)


def test_split_directories_on_disk(tmp_path: Path) -> None:
    cohort, external = tmp_path / "adni", tmp_path / "aibl"
    cohort.mkdir(), external.mkdir()
    for name, frame in clean_splits().items():
        frame.to_csv(cohort / f"{name}.tsv", sep="\t", index=False)
    table("sub-A1").to_csv(external / "test.tsv", sep="\t", index=False)
    assert sorted(read_split_directory(cohort)) == ["test", "train", "train-50", "validation"]
    splits = check_split_directories(cohort, {"aibl": external})
    assert splits["train-50"]["participant_id"].tolist() == ["sub-03", "sub-05"]

    table("sub-A1", "sub-06").to_csv(external / "test.tsv", sep="\t", index=False)
    with pytest.raises(LeakageError, match=r"in training split 'train' and external test set 'aibl': sub-06"):
        check_split_directories(cohort, {"aibl": external})


def test_missing_split_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no split table"):
        read_split_directory(tmp_path)
    (tmp_path / "train.tsv").write_text("participant_id\nsub-01\n")
    with pytest.raises(ValueError, match=r"test\.tsv: file not found"):
        check_split_directories(tmp_path, {"aibl": tmp_path / "aibl"})
