"""Labels and splits on tiny BIDS datasets shaped like clinica's converter output (ADNI, AIBL, OASIS-1).

The tables copy what clinica's adni-to-bids, aibl-to-bids and oasis-to-bids write: column names,
participant and session id spellings, diagnosis values, ``n/a`` for missing values. The label rules
are read from ``profiles/adni-aibl.yaml``, so a profile change that breaks a cohort fails here.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest
import yaml

from medaug.split import check_split_directories, labelled_images, read_labels
from medaug.split.stage import read_cohorts, run
from tests.conftest import REPO

PROFILE = REPO / "profiles" / "adni-aibl.yaml"


def write_table(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False, na_rep="n/a")


def touch_t1w(root: Path, pid: str, session: str = "ses-M000") -> None:
    anat = root / pid / session / "anat"
    anat.mkdir(parents=True, exist_ok=True)
    (anat / f"{pid}_{session}_T1w.nii.gz").touch()


# --- ADNI (adni-to-bids): sub-ADNI<site>S<rid>, sessions ses-M000, ses-M006, ..., diagnosis CN / MCI / AD
ADNI = {  # participant -> (sex, site, age_bl, [(session, diagnosis)])
    **{f"sub-ADNI0{11 + i % 3}S{1000 + i:04d}": ("MF"[i % 2], 11 + i % 3, 70.0 + i, [("ses-M000", "CN"), ("ses-M006", "CN"), ("ses-M012", "CN")])
       for i in range(6)},
    **{f"sub-ADNI0{11 + i % 3}S{2000 + i:04d}": ("MF"[i % 2], 11 + i % 3, 72.5 + i, [("ses-M000", "AD"), ("ses-M012", "AD")])
       for i in range(6)},
    "sub-ADNI013S3001": ("M", 13, 74.1, [("ses-M000", "CN"), ("ses-M024", "MCI")]),           # converter
    "sub-ADNI013S3002": ("F", 13, 71.0, [("ses-M000", "MCI"), ("ses-M012", "AD")]),           # MCI at baseline
    "sub-ADNI013S3003": ("F", 12, 80.2, [("ses-M000", "AD"), ("ses-M006", "n/a")]),           # follow-up without diagnosis
    "sub-ADNI013S3004": ("M", 11, 77.7, [("ses-M000", "n/a"), ("ses-M006", "CN")]),           # no baseline diagnosis
}
ADNI_NO_IMAGE = "sub-ADNI012S1001"  # a stable CN whose T1w was not converted


def write_adni(root: Path) -> Path:
    participants = []
    for pid, (sex, site, age, visits) in ADNI.items():
        ptid = f"{pid[8:11]}_S_{pid[12:]}"
        participants.append({"participant_id": pid, "alternative_id_1": ptid, "date_of_birth": "n/a", "sex": sex,
                             "education_level": 16, "age_bl": age, "marital_status": "Married",
                             "ethnic_cat": "Not Hisp/Latino", "adni_rid": int(pid[12:]), "site": site,
                             "original_study": "ADNI1", "diagnosis_sc": visits[0][1], "mmse_bl": 28})
        write_table([{"session_id": s, "examination_date": "2006-01-01", "age": age, "current_study": "ADNI1",
                      "diagnosis": d, "cdr_sb": 0.0 if d == "CN" else 4.5, "cdr_global": 0.0 if d == "CN" else 1.0,
                      "adas11": 6.0, "MMSE": 29 if d == "CN" else 22, "FAQ": 0} for s, d in visits],
                    root / pid / f"{pid}_sessions.tsv")
        if pid != ADNI_NO_IMAGE:
            touch_t1w(root, pid)
    write_table(participants, root / "participants.tsv")
    return root


# --- AIBL (aibl-to-bids): sub-AIBL<rid>, 18-month visits, DXCURREN mapped to CN / MCI / AD, n/a otherwise
AIBL = {
    "sub-AIBL1": ("F", 1, [("ses-M000", "CN", 70), ("ses-M018", "CN", 72), ("ses-M036", "CN", 73)]),
    "sub-AIBL2": ("M", 2, [("ses-M000", "AD", 75), ("ses-M018", "AD", 77)]),
    "sub-AIBL3": ("M", 1, [("ses-M000", "CN", 68), ("ses-M018", "MCI", 70)]),
    "sub-AIBL4": ("F", 2, [("ses-M000", "MCI", 79)]),
    "sub-AIBL5": ("F", 1, [("ses-M000", "AD", 81)]),
    "sub-AIBL6": ("M", 2, [("ses-M000", "n/a", 66)]),
}


def write_aibl(root: Path) -> Path:
    participants = []
    for pid, (sex, site, visits) in AIBL.items():
        participants.append({"participant_id": pid, "date_of_birth": "1936", "sex": sex, "site": site,
                             "apoe_gen1": 3, "apoe_gen2": 4})
        write_table([{"session_id": s, "examination_date": "09/21/2007", "cdr_global": 0.0 if d == "CN" else 1.0,
                      "MMS": 29, "diagnosis": d, "age": age} for s, d, age in visits],
                    root / pid / f"{pid}_sessions.tsv")
        touch_t1w(root, pid)
    write_table(participants, root / "participants.tsv")
    return root


# --- OASIS-1 (oasis-to-bids): sub-OASIS1<id>, a single ses-M000; CDR 0 / 0.5 / 1 / 2 or missing (under 60).
# clinica's own `diagnosis` column keeps CN for CDR 0 and n/a for float CDRs, as its converter writes it.
OASIS = {  # participant -> (sex, age, CDR or None)
    "sub-OASIS10001": ("F", 74, 0.0), "sub-OASIS10002": ("F", 55, 0.0), "sub-OASIS10003": ("F", 73, 0.5),
    "sub-OASIS10004": ("M", 28, None), "sub-OASIS10005": ("M", 80, 1.0), "sub-OASIS10006": ("F", 90, 2.0),
}


def write_oasis(root: Path) -> Path:
    participants = []
    for pid, (sex, age, cdr) in OASIS.items():
        participants.append({"participant_id": pid, "alternative_id_1": f"OAS1_{pid[-4:]}_MR1", "sex": sex,
                             "laterality": "R", "education_level": 2, "age_bl": age, "cdr": cdr, "diagnosis_bl": cdr})
        write_table([{"session_id": "ses-M000", "cdr_global": cdr, "MMS": 29,
                      "diagnosis": "CN" if cdr == 0 else None}], root / pid / f"{pid}_sessions.tsv")
        touch_t1w(root, pid)
    write_table(participants, root / "participants.tsv")
    return root


@pytest.fixture
def study(tmp_path: Path) -> dict:
    """The profile's split parameters pointed at the three tiny datasets, with tiny split sizes."""
    bids = tmp_path / "bids"
    write_adni(bids / "adni"), write_aibl(bids / "aibl"), write_oasis(bids / "oasis")
    params = copy.deepcopy(yaml.safe_load(PROFILE.read_text())["split"])
    params.update(bids_dir=str(bids), out_dir=str(tmp_path / "splits"), metrics=str(tmp_path / "split.json"),
                  n_test_per_label=1)
    params["train_subset"]["n_per_label"] = 1
    return params


def labels_of(params: dict, name: str) -> pd.DataFrame:
    training, externals = read_cohorts(params)
    cohort = {c.name: c for c in [training, *externals]}[name]
    return read_labels(cohort.bids, cohort.rule).set_index("participant_id")


def test_adni_keeps_stable_cn_and_ad_and_says_why_others_are_out(study):
    table = labels_of(study, "adni")
    kept = table[table["exclusion"].isna()]
    assert (kept["diagnosis"] == "CN").sum() == 5 and (kept["diagnosis"] == "AD").sum() == 7
    assert table.loc["sub-ADNI013S3003", "diagnosis"] == "AD"   # n/a follow-up is not a change
    assert table.loc[["sub-ADNI013S3001", "sub-ADNI013S3002", "sub-ADNI013S3004", ADNI_NO_IMAGE],
                     "exclusion"].tolist() == ["unstable", "not_a_label_at_baseline", "no_baseline_diagnosis",
                                               "no_baseline_image"]
    # the profile's columns: age from participants.tsv (age_bl), MMSE and CDR from the baseline session
    assert table.loc["sub-ADNI011S1000", ["age", "sex", "site", "MMSE", "CDR"]].tolist() == [70.0, "M", 11, 29, 0.0]
    assert set(kept["session_id"]) == {"ses-M000"}


def test_aibl_external_labels(study):
    table = labels_of(study, "aibl")
    assert table["diagnosis"].dropna().to_dict() == {"sub-AIBL1": "CN", "sub-AIBL2": "AD", "sub-AIBL5": "AD"}
    assert table.loc[["sub-AIBL3", "sub-AIBL4"], "exclusion"].tolist() == ["unstable", "not_a_label_at_baseline"]
    assert table.loc["sub-AIBL2", "age"] == 75   # age at the baseline visit (sessions.tsv)
    assert table.loc["sub-AIBL6", "exclusion"] == "no_baseline_diagnosis"


def test_oasis_labels_come_from_cdr_at_baseline(study):
    table = labels_of(study, "oasis")
    assert table["diagnosis"].dropna().to_dict() == {"sub-OASIS10001": "CN", "sub-OASIS10002": "CN", "sub-OASIS10003": "AD",
                                                     "sub-OASIS10005": "AD", "sub-OASIS10006": "AD"}
    assert table.loc["sub-OASIS10004", "exclusion"] == "no_baseline_diagnosis"   # no CDR recorded
    assert table.loc["sub-OASIS10003", "age"] == 73


def test_clinica_oasis_diagnosis_column_would_lose_every_ad(study):
    """Why the profile reads cdr_global: clinica's OASIS `diagnosis` has CN and n/a only."""
    _, externals = read_cohorts(study)
    oasis = next(c for c in externals if c.name == "oasis")
    from dataclasses import replace
    naive = replace(oasis.rule, diagnosis_column="diagnosis", diagnosis_values={"CN": "CN", "AD": "AD"})
    assert set(labelled_images(read_labels(oasis.bids, naive))["diagnosis"]) == {"CN"}


def test_an_unknown_cdr_value_is_an_error_naming_the_file(study, tmp_path):
    path = Path(study["bids_dir"]) / "oasis" / "sub-OASIS10005" / "sub-OASIS10005_sessions.tsv"
    table = pd.read_csv(path, sep="\t")
    table["cdr_global"] = 1.5
    table.to_csv(path, sep="\t", index=False)
    with pytest.raises(ValueError, match="sub-OASIS10005_sessions.tsv.*1.5"):
        labels_of(study, "oasis")


def test_split_stage_on_the_three_cohorts(study):
    metrics = run(study)
    out = Path(study["out_dir"])
    splits = {name: pd.read_csv(out / "adni" / f"{name}.tsv", sep="\t")
              for name in ("test", "train", "validation", "train-50")}
    assert {k: len(v) for k, v in splits.items()} == {"test": 2, "train": 8, "validation": 2, "train-50": 2}
    ids = [set(splits[n]["participant_id"]) for n in ("test", "train", "validation")]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert set(splits["train-50"]["participant_id"]) <= ids[1]
    assert sorted(pd.read_csv(out / "aibl" / "test.tsv", sep="\t")["participant_id"]) == ["sub-AIBL1", "sub-AIBL2", "sub-AIBL5"]
    assert metrics["cohorts"]["oasis"]["counts"] == {"test": {"AD": 3, "CN": 2}}
    assert metrics["cohorts"]["oasis"]["rule"]["rule"] == "baseline"
    check_split_directories(out / "adni", {"aibl": out / "aibl", "oasis": out / "oasis"}, {"train-50": "train"})
