"""Labels from a BIDS dataset: stable CN / stable AD at baseline, exclusions, clear errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from medaug.bids.layout import BIDSError
from medaug.split.labels import LabelError, LabelRule, canonical_value, labelled_images, read_labels, summarize_labels

ADNI_VALUES = {"CN": "CN", "MCI": None, "AD": "AD"}


def write_bids(root: Path, sessions: dict[str, list[tuple[str, str]]], image: bool = True) -> Path:
    """A tiny BIDS dataset: participant -> [(session_id, diagnosis)]; baseline images as empty files."""
    rows = []
    for i, (pid, visits) in enumerate(sorted(sessions.items())):
        rows.append({"participant_id": pid, "sex": "MF"[i % 2], "age": 70 + i, "site": f"S{i % 3}"})
        table = pd.DataFrame(
            {"session_id": [s for s, _ in visits], "age": [70 + i + int(s[-3:]) / 12 for s, _ in visits],
             "diagnosis": [d for _, d in visits], "MMSE": [29] * len(visits)}
        )
        (root / pid).mkdir(parents=True)
        table.to_csv(root / pid / f"{pid}_sessions.tsv", sep="\t", index=False, na_rep="n/a")
        if image:
            anat = root / pid / "ses-M000" / "anat"
            anat.mkdir(parents=True)
            (anat / f"{pid}_ses-M000_T1w.nii.gz").touch()
    pd.DataFrame(rows).to_csv(root / "participants.tsv", sep="\t", index=False)
    return root


COHORT = {
    "sub-01": [("ses-M000", "CN"), ("ses-M012", "CN"), ("ses-M024", "CN")],  # stable CN
    "sub-02": [("ses-M000", "AD"), ("ses-M012", "AD")],  # stable AD
    "sub-03": [("ses-M000", "CN"), ("ses-M012", "MCI")],  # converter CN -> MCI
    "sub-04": [("ses-M000", "MCI"), ("ses-M012", "AD")],  # MCI at baseline
    "sub-05": [("ses-M000", "MCI")],  # MCI, no follow-up
    "sub-06": [("ses-M000", "AD")],  # AD, no follow-up
    "sub-07": [("ses-M000", "CN"), ("ses-M012", "n/a")],  # follow-up without diagnosis
    "sub-08": [("ses-M012", "CN")],  # no baseline session
    "sub-09": [("ses-M000", "n/a"), ("ses-M012", "CN")],  # no baseline diagnosis
    "sub-10": [("ses-M024", "AD"), ("ses-M000", "AD"), ("ses-M006", "CN")],  # unsorted rows, reverts
}


@pytest.fixture
def cohort(tmp_path: Path) -> Path:
    return write_bids(tmp_path / "bids", COHORT)


def test_stable_rule_keeps_stable_cn_and_ad_and_excludes_the_rest(cohort: Path) -> None:
    columns = {"age": "age", "sex": "sex", "site": "site", "MMSE": "MMSE"}
    table = read_labels(cohort, LabelRule(ADNI_VALUES, columns=columns)).set_index("participant_id")
    assert table.loc[["sub-01", "sub-02", "sub-06", "sub-07"], "diagnosis"].tolist() == ["CN", "AD", "AD", "CN"]
    expected = {
        "sub-03": "unstable", "sub-04": "not_a_label_at_baseline", "sub-05": "not_a_label_at_baseline",
        "sub-08": "no_baseline_session", "sub-09": "no_baseline_diagnosis", "sub-10": "unstable",
    }
    assert table["exclusion"].dropna().to_dict() == expected
    assert table.loc[list(expected), "diagnosis"].isna().all()
    assert (table["session_id"].drop("sub-08") == "ses-M000").all()
    assert pd.isna(table.loc["sub-08", "session_id"])  # no baseline session
    assert table.loc["sub-10", "diagnoses"] == "AD>CN>AD"  # in visit order, not row order
    assert table.loc["sub-01", ["age", "sex", "site", "MMSE"]].tolist() == [70.0, "M", "S0", 29]


def test_participants_without_followup_kept_or_dropped_by_parameter(cohort: Path) -> None:
    kept = summarize_labels(read_labels(cohort, LabelRule(ADNI_VALUES, keep_without_followup=True)))
    dropped_table = read_labels(cohort, LabelRule(ADNI_VALUES, keep_without_followup=False))
    dropped = summarize_labels(dropped_table)
    assert kept["labelled"] == {"AD": 2, "CN": 2} and kept["labelled_without_followup"] == 2
    assert dropped["labelled"] == {"AD": 1, "CN": 1} and dropped["labelled_without_followup"] == 0
    assert set(dropped_table.loc[dropped_table["exclusion"] == "no_followup", "participant_id"]) == {"sub-06", "sub-07"}


def test_baseline_rule_ignores_followup(cohort: Path) -> None:
    table = read_labels(cohort, LabelRule(ADNI_VALUES, rule="baseline")).set_index("participant_id")
    assert table.loc["sub-03", "diagnosis"] == "CN"
    assert table.loc["sub-10", "diagnosis"] == "AD"
    assert pd.isna(table.loc["sub-04", "diagnosis"])


def test_labelled_images_keeps_clinicadl_columns(cohort: Path) -> None:
    images = labelled_images(read_labels(cohort, LabelRule(ADNI_VALUES)))
    assert list(images.columns[:6]) == ["participant_id", "session_id", "diagnosis", "age", "sex", "site"]
    assert images["participant_id"].tolist() == ["sub-01", "sub-02", "sub-06", "sub-07"]


def test_numeric_cdr_mapping_for_cross_sectional_cohorts(tmp_path: Path) -> None:
    root = write_bids(tmp_path / "oasis", {f"sub-{i}": [("ses-M000", "x")] for i in range(4)})
    for pid, cdr in zip(["sub-0", "sub-1", "sub-2", "sub-3"], ["0", "0.5", "1.0", "n/a"]):
        path = root / pid / f"{pid}_sessions.tsv"
        path.write_text(f"session_id\tCDR\tdiagnosis\nses-M000\t{cdr}\tx\n")
    rule = LabelRule({0: "CN", 0.5: "AD", 1: "AD", 2: "AD"}, diagnosis_column="CDR", rule="baseline")
    table = read_labels(root, rule)
    assert table["diagnosis"].tolist()[:3] == ["CN", "AD", "AD"]
    assert table["exclusion"].tolist()[3] == "no_baseline_diagnosis"


def test_missing_baseline_image_is_an_exclusion(tmp_path: Path) -> None:
    root = write_bids(tmp_path / "bids", {"sub-01": [("ses-M000", "CN")]}, image=False)
    assert read_labels(root, LabelRule(ADNI_VALUES))["exclusion"].tolist() == ["no_baseline_image"]
    assert read_labels(root, LabelRule(ADNI_VALUES, require_image=False))["diagnosis"].tolist() == ["CN"]


def test_missing_sessions_table_names_the_file(cohort: Path) -> None:
    (cohort / "sub-03" / "sub-03_sessions.tsv").unlink()
    with pytest.raises(BIDSError, match=r"sub-03_sessions\.tsv: file not found"):
        read_labels(cohort, LabelRule(ADNI_VALUES))


def test_missing_diagnosis_column_names_the_file(cohort: Path) -> None:
    with pytest.raises(BIDSError, match=r"sub-01_sessions\.tsv: missing column\(s\) \['dx'\]"):
        read_labels(cohort, LabelRule(ADNI_VALUES, diagnosis_column="dx"))


def test_missing_participants_table_names_the_file(cohort: Path) -> None:
    (cohort / "participants.tsv").unlink()
    with pytest.raises(BIDSError, match=r"participants\.tsv: file not found"):
        read_labels(cohort, LabelRule(ADNI_VALUES))


def test_missing_demographic_column_names_both_files(cohort: Path) -> None:
    rule = LabelRule(ADNI_VALUES, columns={"age": "age", "education": "education"})
    with pytest.raises(BIDSError, match=r"sub-01_sessions\.tsv: column 'education' found neither here nor in .*participants\.tsv"):
        read_labels(cohort, rule)


def test_demographics_fall_back_to_participants_table(cohort: Path) -> None:
    table = read_labels(cohort, LabelRule(ADNI_VALUES)).set_index("participant_id")
    assert table.loc["sub-08", "age"] == 77  # no baseline row in sessions.tsv: participants.tsv age


def test_unknown_diagnosis_value_names_file_and_session(cohort: Path) -> None:
    path = cohort / "sub-02" / "sub-02_sessions.tsv"
    path.write_text("session_id\tdiagnosis\nses-M000\tAD\nses-M012\tDementia\n")
    with pytest.raises(LabelError, match=r"sub-02_sessions\.tsv, session ses-M012, column 'diagnosis': unknown diagnosis value 'Dementia'"):
        read_labels(cohort, LabelRule(ADNI_VALUES))


def test_duplicated_participant_is_an_error(cohort: Path) -> None:
    path = cohort / "participants.tsv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines, lines[1]]) + "\n")
    with pytest.raises(BIDSError, match=r"participants\.tsv: duplicated participant_id \['sub-01'\]"):
        read_labels(cohort, LabelRule(ADNI_VALUES))


def test_rule_parameters_are_validated() -> None:
    with pytest.raises(ValueError, match="rule must be one of"):
        LabelRule(ADNI_VALUES, rule="ever")
    with pytest.raises(ValueError, match="at least two labels"):
        LabelRule({"CN": "CN", "MCI": None})
    with pytest.raises(ValueError, match="split.labels: unknown key"):
        LabelRule.from_params({"diagnosis_values": ADNI_VALUES, "diagnosis_colum": "dx"})


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [(0, "0"), (0.0, "0"), ("0", "0"), (" 0.5 ", "0.5"), (0.5, "0.5"), ("CN", "CN"), (" AD", "AD"), (float("nan"), None), (None, None)],
)
def test_canonical_value(raw: object, canonical: str | None) -> None:
    assert canonical_value(raw) == canonical
