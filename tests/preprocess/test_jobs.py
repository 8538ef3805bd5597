"""Which sessions the preprocess stage runs on (medaug.preprocess.jobs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from medaug.preprocess import caps
from medaug.preprocess.jobs import bids_jobs, caps_jobs, read_session_list


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_a_session_list_keeps_unexcluded_rows_once(tmp_path):
    path = tmp_path / "labels.tsv"
    path.write_text("participant_id\tsession_id\texclusion\n"
                    "sub-01\tses-M000\tn/a\nsub-02\tses-M000\tno_image\nsub-01\tses-M000\tn/a\nsub-03\tses-M006\t\n")
    assert read_session_list(path) == [("sub-01", "ses-M000"), ("sub-03", "ses-M006")]


@pytest.mark.parametrize("text, message", [
    ("participant_id\tdiagnosis\nsub-01\tAD\n", r"missing column\(s\) \['session_id'\]"),
    ("", "cannot read the session list"),
])
def test_a_bad_session_list_is_refused_naming_the_file(tmp_path, text, message):
    path = tmp_path / "sessions.tsv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as err:
        read_session_list(path)
    assert str(path) in str(err.value)


def test_a_missing_session_list_names_the_file(tmp_path):
    with pytest.raises(ValueError, match="cannot read the session list"):
        read_session_list(tmp_path / "absent.tsv")


def test_bids_jobs_find_every_baseline_t1w_or_take_the_list(tmp_path):
    for pid in ("sub-02", "sub-01"):
        _touch(tmp_path / pid / "ses-M000" / "anat" / f"{pid}_ses-M000_T1w.nii.gz")
    _touch(tmp_path / "sub-01" / "ses-M012" / "anat" / "sub-01_ses-M012_T1w.nii.gz")
    found = bids_jobs(tmp_path)
    assert [(j.participant_id, j.session_id) for j in found] == [("sub-01", "ses-M000"), ("sub-02", "ses-M000")]
    assert found[0].source == tmp_path / "sub-01" / "ses-M000" / "anat" / "sub-01_ses-M000_T1w.nii.gz"
    assert not any(j.from_caps for j in found)
    later = bids_jobs(tmp_path, session_id="ses-M012")
    assert [(j.participant_id, j.session_id) for j in later] == [("sub-01", "ses-M012")]


def test_a_listed_session_without_an_image_still_becomes_a_job(tmp_path):
    jobs = bids_jobs(tmp_path, [("sub-09", "ses-M000"), ("sub-09", "ses-M000")])
    assert len(jobs) == 1 and not jobs[0].source.exists()  # the stage reports "file not found" for it


def test_caps_jobs_read_the_crop_images_and_mark_a_missing_one(tmp_path):
    crop = _touch(caps.crop_image_path(tmp_path, "sub-01", "ses-M000", "MNI152NLin2009cSym"))
    _touch(caps.crop_image_path(tmp_path, "sub-02", "ses-M006", "MNI152NLin2009cSym"))
    jobs = caps_jobs(tmp_path)
    assert [(j.participant_id, j.session_id, j.source, j.from_caps) for j in jobs] == [("sub-01", "ses-M000", crop, True)]
    listed = caps_jobs(tmp_path, [("sub-03", "ses-M000")])
    assert listed[0].from_caps and listed[0].source.name == "(no desc-Crop image)"
    assert listed[0].source.parent == caps.t1_linear_dir(tmp_path, "sub-03", "ses-M000")
