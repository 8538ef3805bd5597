"""medaug.ingest.source: surveying and staging a BIDS source (the image rule, exclusions with reasons)."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("bids")

from medaug.bids.layout import BIDSError  # noqa: E402
from medaug.ingest.source import EXCLUDED_TABLE, BIDSSource, stage_cohort, survey  # noqa: E402
from medaug.ingest.stage import run  # noqa: E402
from tests.bids.fixtures import random_volume, save_image, write_bids  # noqa: E402


def _source(root: Path, **kw) -> BIDSSource:
    spec = {"path": str(root), "label_column": "group", "labels": {"patient": "patient", "control": "control"}}
    return BIDSSource.from_params("quirky", {**spec, **kw})


def test_survey_chooses_one_image_by_the_rule_and_says_why_others_are_out(tmp_path: Path) -> None:
    files = write_bids(tmp_path)
    found = survey(_source(tmp_path))
    chosen = found.chosen.set_index("participant_id")
    assert len(chosen) == 12 and set(chosen["label"]) == {"patient", "control"}
    assert Path(chosen.loc["sub-001", "path"]).name == "sub-001_acq-mprage_run-1_T1w.nii"   # lowest run
    assert Path(chosen.loc["sub-002", "path"]).name == "sub-002_T1w.nii"                    # no rec- first
    reasons = found.excluded.set_index("participant_id")["reason"].to_dict()
    assert reasons == {"sub-013": "label_not_used", "sub-014": "label_not_used", "sub-015": "no_label"}
    assert "participants.tsv row 16" in found.excluded.set_index("participant_id").loc["sub-015", "detail"]
    assert len(files) == 15


def test_sessions_dataset_keeps_its_session(tmp_path: Path) -> None:
    write_bids(tmp_path / "raw", sessions=True, extension=".nii.gz")
    found = survey(_source(tmp_path / "raw", labels_from="sessions"))
    assert set(found.chosen["session_id"]) == {"ses-01"} and len(found.chosen) == 12
    stage_cohort(found, tmp_path / "out")
    assert (tmp_path / "out" / "sub-002" / "ses-01" / "anat" / "sub-002_ses-01_T1w.nii.gz").is_file()


def test_unreadable_image_is_named_and_the_rest_is_staged(tmp_path: Path, caplog) -> None:
    files = write_bids(tmp_path / "raw", extension=".nii.gz")
    broken = files["sub-003"][0]
    broken.write_bytes(gzip.compress(b"not a nifti image" * 40))
    summary = run({"out_dir": str(tmp_path / "bids"), "bids": {"q": {
        "path": str(tmp_path / "raw"), "label_column": "group",
        "labels": {"patient": "patient", "control": "control"}}}}, cohort="q")
    assert summary["excluded"]["unreadable"] == 1 and sum(summary["kept"].values()) == 11
    assert str(broken) in caplog.text
    excluded = pd.read_csv(tmp_path / "bids" / "q" / EXCLUDED_TABLE, sep="\t").set_index("participant_id")
    assert excluded.loc["sub-003", "reason"] == "unreadable" and str(broken) in excluded.loc["sub-003", "detail"]


def test_truncated_image_found_only_when_staged_is_left_out(tmp_path: Path) -> None:
    files = write_bids(tmp_path / "raw", extension=".nii")
    path = files["sub-004"][0]
    path.write_bytes(path.read_bytes()[:600])         # header readable, data cut short
    found = survey(_source(tmp_path / "raw"))
    assert "sub-004" in set(found.chosen["participant_id"])
    summary = stage_cohort(found, tmp_path / "out")
    assert summary["excluded"]["unreadable"] == 1
    assert not (tmp_path / "out" / "sub-004").exists()


def test_image_in_another_space_is_named(tmp_path: Path) -> None:
    files = write_bids(tmp_path / "raw", extension=".nii.gz")
    odd = files["sub-005"][0]
    save_image(*random_volume(5), odd, sform_code=4)                 # an MNI-space image among native ones
    with pytest.raises(BIDSError, match=f"{odd}.*mni"):
        survey(_source(tmp_path / "raw"))
    assert not (tmp_path / "out").exists()


def test_space_entity_in_raw_data_is_not_indexed(tmp_path: Path) -> None:
    """A ``space-`` file is not valid raw BIDS: pybids' validation leaves it out of the index."""
    files = write_bids(tmp_path / "raw", extension=".nii.gz")
    target = files["sub-006"][0]
    target.rename(target.with_name("sub-006_space-MNI152NLin2009cAsym_T1w.nii.gz"))
    chosen = survey(_source(tmp_path / "raw")).chosen.set_index("participant_id")
    assert Path(chosen.loc["sub-006", "path"]).name == "sub-006_rec-norm_T1w.nii.gz"


def test_duplicate_participants_named_with_rows(tmp_path: Path) -> None:
    write_bids(tmp_path)
    table = tmp_path / "participants.tsv"
    lines = table.read_text().splitlines()
    table.write_text("\n".join(lines + [lines[3]]) + "\n")
    with pytest.raises(BIDSError, match=r"participants.tsv: duplicate participant_id at row 4 \(sub-003\), row 17"):
        survey(_source(tmp_path))


def test_empty_dataset_is_named(tmp_path: Path) -> None:
    (tmp_path / "dataset_description.json").write_text('{"Name": "x", "BIDSVersion": "1.9.0"}')
    (tmp_path / "participants.tsv").write_text("participant_id\tgroup\n")
    with pytest.raises(BIDSError, match=f"{tmp_path}: no T1w image found"):
        survey(_source(tmp_path))


def test_missing_label_column_is_named(tmp_path: Path) -> None:
    write_bids(tmp_path)
    with pytest.raises(BIDSError, match=r"participants.tsv: no column 'dx'.*\['participant_id', 'group'"):
        survey(_source(tmp_path, label_column="dx"))


def test_random_volume_is_3d() -> None:
    volume, affine = random_volume(0)
    assert volume.ndim == 3 and np.allclose(nib.affines.voxel_sizes(affine), 2.0)


def test_staging_never_overwrites_its_source(tmp_path: Path) -> None:
    write_bids(tmp_path / "bids" / "quirky")
    found = survey(_source(tmp_path / "bids" / "quirky"))
    with pytest.raises(BIDSError, match="would overwrite or nest in its source"):
        stage_cohort(found, tmp_path / "bids" / "quirky")
    assert (tmp_path / "bids" / "quirky" / "participants.tsv").is_file()
