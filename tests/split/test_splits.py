"""Participant-level splits: sizes, balance, determinism, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from medaug.split.balance import BalanceCriteria, balance_pvalues
from medaug.split.leakage import check_split_directories
from medaug.split.splits import CohortSplitter, SplitError, draw_train_subset, split_test, validation_counts

LABELS = ["AD", "CN"]
AGE_SEX_SITE = BalanceCriteria(p_min={"age": 0.2, "sex": 0.2, "site": 0.2})
AGE_SEX = BalanceCriteria(p_min={"age": 0.2, "sex": 0.2})


def make_cohort(n_per_label: int, seed: int = 0, prefix: str = "sub-P") -> pd.DataFrame:
    """A labelled cohort: one baseline row per participant with age, sex and site."""
    rng = np.random.default_rng(seed)
    n = 2 * n_per_label
    return pd.DataFrame({
        "participant_id": [f"{prefix}{i:04d}" for i in range(n)],
        "session_id": "ses-M000",
        "diagnosis": ["CN", "AD"] * n_per_label,
        "age": np.round(rng.normal(73.0, 6.0, n), 1),
        "sex": rng.choice(["M", "F"], n),
        "site": rng.choice(["S1", "S2", "S3"], n),
    })


def splitter(**overrides: object) -> CohortSplitter:
    settings = dict(n_test_per_label=10, validation_size=0.2, balance=AGE_SEX_SITE, max_attempts=200,
                    n_subset_per_label=20, subset_balance=AGE_SEX, subset_name="train-50", seed=7)
    settings.update(overrides)
    return CohortSplitter(**settings)


def test_split_sizes_disjointness_and_balance() -> None:
    cohort = make_cohort(60)
    splits, report = splitter().split(cohort, LABELS)
    assert report["counts"] == {
        "test": {"AD": 10, "CN": 10}, "train": {"AD": 40, "CN": 40},
        "validation": {"AD": 10, "CN": 10}, "train-50": {"AD": 20, "CN": 20},
    }
    ids = {name: set(t["participant_id"]) for name, t in splits.items()}
    assert not ids["test"] & ids["train"] and not ids["test"] & ids["validation"]
    assert not ids["train"] & ids["validation"]
    assert ids["test"] | ids["train"] | ids["validation"] == set(cohort["participant_id"])
    assert ids["train-50"] <= ids["train"]
    for step, criteria in [("test_vs_rest", AGE_SEX_SITE), ("train_vs_validation", AGE_SEX_SITE),
                           ("train-50_vs_train", AGE_SEX)]:
        pvalues = report["balance"][step]["pvalues"]
        assert set(pvalues) == set(LABELS)
        for per_column in pvalues.values():
            assert set(per_column) == set(criteria.p_min)
            assert all(p >= criteria.p_min[c] for c, p in per_column.items())
    # the reported p-values are those of the written tables
    recomputed = balance_pvalues(splits["train"], splits["validation"], AGE_SEX_SITE)
    assert report["balance"]["train_vs_validation"]["pvalues"]["AD"]["age"] == pytest.approx(recomputed["AD"]["age"], abs=1e-6)
    assert list(splits["test"].columns) == list(cohort.columns)


def test_same_seed_same_split_other_seed_other_split() -> None:
    cohort = make_cohort(60)
    first, _ = splitter(seed=3).split(cohort, LABELS)
    again, _ = splitter(seed=3).split(cohort.sample(frac=1.0, random_state=1), LABELS)  # input order is irrelevant
    other, _ = splitter(seed=4).split(cohort, LABELS)
    for name in first:
        pd.testing.assert_frame_equal(first[name], again[name])
    assert set(first["test"]["participant_id"]) != set(other["test"]["participant_id"])


def test_label_smaller_than_test_size_is_an_error() -> None:
    cohort = make_cohort(12)
    cohort = cohort[~cohort["participant_id"].isin(cohort[cohort["diagnosis"] == "AD"]["participant_id"][:3])]
    with pytest.raises(SplitError, match=r"test set of 10 per label.*\{'AD': 9\}"):
        splitter().split(cohort, LABELS)


def test_missing_label_is_an_error() -> None:
    cohort = make_cohort(20)
    with pytest.raises(SplitError, match=r"'AD': 0"):
        splitter().split(cohort[cohort["diagnosis"] == "CN"], LABELS)


def test_unreachable_balance_fails_with_best_pvalues() -> None:
    criteria = BalanceCriteria(p_min={"age": 0.9999999, "sex": 0.0})
    with pytest.raises(SplitError, match=r"test vs rest: no draw balanced after 5 attempts.*best p-values found: \{'AD': \{'age': 0\.\d+"):
        split_test(make_cohort(30), LABELS, 10, criteria, np.random.default_rng(0), max_attempts=5)


def test_tiny_cohort_can_be_split() -> None:
    """A handful per label (CI profile): untestable p-values do not block the split."""
    splits, report = splitter(n_test_per_label=2, n_subset_per_label=2, max_attempts=1000).split(make_cohort(6), LABELS)
    assert report["counts"]["validation"] == {"AD": 1, "CN": 1}
    assert report["counts"]["train"] == {"AD": 3, "CN": 3}
    assert report["balance"]["train_vs_validation"]["pvalues"]["AD"]["age"] is None


def test_validation_counts_round_half_up_and_refuse_empty_sets() -> None:
    assert validation_counts({"AD": 90, "CN": 12}, 0.2) == {"AD": 18, "CN": 2}
    with pytest.raises(SplitError, match="train or validation empty"):
        validation_counts({"AD": 2, "CN": 20}, 0.2)


def test_subset_larger_than_train_is_an_error() -> None:
    with pytest.raises(SplitError, match=r"subset of 50 per label"):
        draw_train_subset(make_cohort(30), LABELS, 50, AGE_SEX, np.random.default_rng(0), 10)


def test_duplicated_participant_is_an_error() -> None:
    cohort = make_cohort(30)
    cohort = pd.concat([cohort, cohort.iloc[[0]]])
    with pytest.raises(SplitError, match=r"more than one row \['sub-P0000'\]"):
        splitter().split(cohort, LABELS)


# --- the stage script on two tiny BIDS cohorts -------------------------------------------------


def write_bids(root: Path, cohort: pd.DataFrame, extra: dict[str, list[str]]) -> None:
    """BIDS raw dataset of a labelled frame, plus participants with other diagnosis histories."""
    visits = {pid: [dx, dx] for pid, dx in zip(cohort["participant_id"], cohort["diagnosis"])}
    visits.update(extra)
    demo = cohort.set_index("participant_id")
    rows = []
    for pid, history in visits.items():
        age, sex, site = demo.loc[pid, ["age", "sex", "site"]] if pid in demo.index else (75.0, "F", "S1")
        rows.append({"participant_id": pid, "sex": sex, "age": age, "site": site})
        sessions = pd.DataFrame({"session_id": [f"ses-M{12 * k:03d}" for k in range(len(history))],
                                 "diagnosis": history, "age": [age + k for k in range(len(history))]})
        (root / pid / "ses-M000" / "anat").mkdir(parents=True)
        (root / pid / "ses-M000" / "anat" / f"{pid}_ses-M000_T1w.nii.gz").touch()
        sessions.to_csv(root / pid / f"{pid}_sessions.tsv", sep="\t", index=False)
    pd.DataFrame(rows).to_csv(root / "participants.tsv", sep="\t", index=False)


@pytest.fixture
def params_file(tmp_path: Path) -> Path:
    write_bids(tmp_path / "bids" / "train", make_cohort(30, seed=1, prefix="sub-T"),
               {"sub-TMCI1": ["MCI", "AD"], "sub-TCONV": ["CN", "MCI"]})
    write_bids(tmp_path / "bids" / "ext", make_cohort(5, seed=2, prefix="sub-E"), {"sub-EMCI1": ["MCI"]})
    params = {"split": {
        "seed": 11, "bids_dir": str(tmp_path / "bids"), "out_dir": str(tmp_path / "splits"),
        "metrics": str(tmp_path / "metrics" / "split.json"),
        "labels": {"diagnosis_column": "diagnosis", "diagnosis_values": {"CN": "CN", "MCI": None, "AD": "AD"},
                   "rule": "stable", "keep_without_followup": True, "baseline_session": "ses-M000",
                   "columns": {"age": "age", "sex": "sex", "site": "site"}},
        "cohorts": {"train": {"role": "training"}, "ext": {"role": "external"}},
        "n_test_per_label": 5, "validation_size": 0.2,
        "balance": {"p_min": {"age": 0.1, "sex": 0.1, "site": 0.1}, "max_attempts": 500},
        "train_subset": {"name": "train-50", "n_per_label": 10, "p_min": {"age": 0.1, "sex": 0.1}, "max_attempts": 500},
    }}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_stage_writes_splits_labels_and_metrics(params_file: Path, tmp_path: Path) -> None:
    from pipelines.split import main

    main(["--params", str(params_file)])
    out = tmp_path / "splits"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.tsv")) == [
        "ext/test.tsv", "labels/ext.tsv", "labels/train.tsv",
        "train/test.tsv", "train/train-50.tsv", "train/train.tsv", "train/validation.tsv",
    ]
    splits = check_split_directories(out / "train", {"ext": out / "ext"})
    assert len(splits["test"]) == 10 and len(splits["train-50"]) == 20
    assert list(splits["train"].columns) == ["participant_id", "session_id", "diagnosis", "age", "sex", "site"]
    labels = pd.read_csv(out / "labels" / "train.tsv", sep="\t")
    assert labels.set_index("participant_id").loc[["sub-TMCI1", "sub-TCONV"], "exclusion"].tolist() == [
        "not_a_label_at_baseline", "unstable"]
    metrics = json.loads((tmp_path / "metrics" / "split.json").read_text())
    assert metrics["seed"] == 11
    assert metrics["cohorts"]["train"]["counts"]["train"] == {"AD": 20, "CN": 20}
    assert metrics["cohorts"]["train"]["labels"]["excluded"] == {"not_a_label_at_baseline": 1, "unstable": 1}
    assert metrics["cohorts"]["ext"]["counts"] == {"test": {"AD": 5, "CN": 5}}

    first = {p: p.read_bytes() for p in sorted(out.rglob("*.tsv"))}
    main(["--params", str(params_file)])
    assert {p: p.read_bytes() for p in sorted(out.rglob("*.tsv"))} == first  # same seed, same bytes


def test_stage_failure_leaves_previous_outputs(params_file: Path, tmp_path: Path) -> None:
    from pipelines.split import main

    main(["--params", str(params_file)])
    before = (tmp_path / "splits" / "train" / "test.tsv").read_bytes()
    params = yaml.safe_load(params_file.read_text())
    params["split"]["n_test_per_label"] = 50
    params_file.write_text(yaml.safe_dump(params))
    with pytest.raises(SplitError, match="test set of 50 per label"):
        main(["--params", str(params_file)])
    assert (tmp_path / "splits" / "train" / "test.tsv").read_bytes() == before
    assert not [p for p in (tmp_path / "splits").parent.iterdir() if p.name.startswith(".tmp-")]


def test_external_cohort_can_override_the_label_rule(params_file: Path, tmp_path: Path) -> None:
    from pipelines.split import main

    params = yaml.safe_load(params_file.read_text())
    params["split"]["cohorts"]["ext"]["labels"] = {"diagnosis_values": {"CN": "CN", "MCI": "CN", "AD": "AD"}}
    params_file.write_text(yaml.safe_dump(params))
    main(["--params", str(params_file)])
    metrics = json.loads((tmp_path / "metrics" / "split.json").read_text())
    assert metrics["cohorts"]["ext"]["counts"] == {"test": {"AD": 5, "CN": 6}}
    assert metrics["cohorts"]["train"]["labels"]["excluded"] == {"not_a_label_at_baseline": 1, "unstable": 1}


@pytest.mark.parametrize(
    ("cohorts", "message"),
    [
        ({"train": {"role": "training"}, "labels": {"role": "external"}}, "invalid cohort name 'labels'"),
        ({"train": {"role": "training"}, "../x": {"role": "external"}}, r"invalid cohort name '\.\./x'"),
        ({"train": {"role": "training"}, "ext": {"role": "training"}}, "exactly one cohort must have role 'training'"),
        ({"train": {"role": "training"}, "ext": {"role": "test"}}, r"split.cohorts.ext.role must be one of"),
        ({"train": {"role": "training", "path": "x"}}, r"split.cohorts.train: unknown key\(s\) \['path'\]"),
    ],
)
def test_stage_rejects_bad_cohort_entries(params_file: Path, cohorts: dict, message: str) -> None:
    from pipelines.split import main

    params = yaml.safe_load(params_file.read_text())
    params["split"]["cohorts"] = cohorts
    params_file.write_text(yaml.safe_dump(params))
    with pytest.raises(ValueError, match=message):
        main(["--params", str(params_file)])


def test_stage_reads_an_explicit_bids_path(params_file: Path, tmp_path: Path) -> None:
    from pipelines.split import main

    (tmp_path / "bids" / "ext").rename(tmp_path / "aibl-bids")
    params = yaml.safe_load(params_file.read_text())
    params["split"]["cohorts"]["ext"]["bids"] = str(tmp_path / "aibl-bids")
    params_file.write_text(yaml.safe_dump(params))
    main(["--params", str(params_file)])
    assert len(pd.read_csv(tmp_path / "splits" / "ext" / "test.tsv", sep="\t")) == 10


def test_missing_balance_column_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"balance column\(s\) \['site'\] not in the cohort table"):
        splitter().split(make_cohort(30).drop(columns="site"), LABELS)
