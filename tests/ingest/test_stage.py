"""medaug.ingest.stage: the ``cohort_bids`` stage surveys one BIDS source and stages it as a medaug cohort."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("bids")

from medaug.ingest.source import EXCLUDED_TABLE, IMAGE_TABLE  # noqa: E402
from medaug.ingest.stage import metrics_path, run  # noqa: E402
from tests.bids.fixtures import write_bids  # noqa: E402


def test_stage_writes_the_layout_later_stages_read(tmp_path: Path) -> None:
    write_bids(tmp_path / "raw", sessions=False, extension=".nii")
    params = {"out_dir": str(tmp_path / "bids"), "bids": {"quirky": {
        "path": str(tmp_path / "raw"), "label_column": "group", "labels": {"patient": "patient", "control": "control"}}}}
    summary = run(params, cohort="quirky")
    assert summary["kept"] == {"control": 6, "patient": 6}
    assert summary["excluded"] == {"label_not_used": 2, "no_label": 1}
    out = tmp_path / "bids" / "quirky"
    image = out / "sub-001" / "ses-M000" / "anat" / "sub-001_ses-M000_T1w.nii.gz"
    source = tmp_path / "raw" / "sub-001" / "anat" / "sub-001_acq-mprage_run-1_T1w.nii"
    assert gzip.decompress(image.read_bytes()) == source.read_bytes()
    sessions = pd.read_csv(out / "sub-001" / "sub-001_sessions.tsv", sep="\t")
    assert list(sessions["session_id"]) == ["ses-M000"] and list(sessions["group"]) == ["patient"]
    assert json.loads((out / "dataset_description.json").read_text())["DatasetType"] == "raw"
    assert len(pd.read_csv(out / IMAGE_TABLE, sep="\t")) == 12
    assert set(pd.read_csv(out / EXCLUDED_TABLE, sep="\t")["reason"]) == {"label_not_used", "no_label"}
    first = image.read_bytes()
    run(params, cohort="quirky")                                    # a rerun gives the same bytes
    assert image.read_bytes() == first


def test_an_unknown_cohort_lists_the_known_ones(tmp_path: Path) -> None:
    params = {"out_dir": str(tmp_path / "bids"), "bids": {"quirky": {}, "other": {}}}
    with pytest.raises(KeyError, match=r"cohort.bids has no entry 'missing' \(found \['other', 'quirky'\]\)"):
        run(params, cohort="missing")
    with pytest.raises(KeyError, match=r"found \[\]"):
        run({"out_dir": str(tmp_path), "bids": None}, cohort="quirky")
    assert not (tmp_path / "bids").exists()


def test_metrics_go_to_the_metrics_dir_under_the_cohort_name() -> None:
    assert metrics_path({"metrics_dir": "out/metrics"}, "quirky") == Path("out/metrics/cohort_quirky.json")
    assert metrics_path({}, "quirky") == Path("metrics/cohort_quirky.json")
