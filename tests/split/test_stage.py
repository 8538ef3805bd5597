"""The library entry of stage ``split`` (medaug.split.stage): which cohorts, in which role, and the
splitter its parameters make. The whole stage on three small studies is in test_study_labels.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from medaug.split.stage import build_splitter, read_cohorts


def _params(cohorts: dict) -> dict:
    return {"bids_dir": "data/bids", "cohorts": cohorts,
            "labels": {"rule": "stable", "diagnosis_column": "diagnosis",
                       "diagnosis_values": {"CN": "CN", "MCI": None, "AD": "AD"}, "keep_without_followup": True,
                       "baseline_session": "ses-M000",
                       "sessions_table": "{participant_id}/{participant_id}_sessions.tsv",
                       "columns": {"age": "age"}, "require_image": True}}


def test_cohorts_in_their_roles_with_their_own_folders_and_label_rules():
    training, externals = read_cohorts(_params({
        "ext-b": {"role": "external", "bids": "/data/elsewhere", "labels": {"rule": "baseline"}},
        "train": {"role": "training"},
        "ext-a": {"role": "external"},
    }))
    assert (training.name, training.bids, training.rule.rule) == ("train", Path("data/bids/train"), "stable")
    assert [(c.name, c.bids, c.rule.rule) for c in externals] == [("ext-b", Path("/data/elsewhere"), "baseline"),
                                                                   ("ext-a", Path("data/bids/ext-a"), "stable")]


@pytest.mark.parametrize("cohorts, message", [
    ({"a": {"role": "training"}, "b": {"role": "training"}}, "exactly one cohort must have role 'training', got 2"),
    ({"a": {"role": "external"}}, "exactly one cohort must have role 'training', got 0"),
    ({"a": {"role": "test"}}, r"split.cohorts.a.role must be one of \('training', 'external'\)"),
    ({"labels": {"role": "training"}}, "invalid cohort name 'labels'"),
    ({"a b": {"role": "training"}}, "invalid cohort name 'a b'"),
    ({"a": {"role": "training", "path": "x"}}, "split.cohorts.a"),
])
def test_planted_bad_cohorts_are_refused_by_name(cohorts, message):
    with pytest.raises(ValueError, match=message):
        read_cohorts(_params(cohorts))


def test_the_splitter_takes_its_sizes_and_seed_from_the_parameters():
    splitter = build_splitter({"n_test_per_label": 5, "validation_size": 0.25, "seed": 3,
                               "balance": {"p_min": {"age": 0.2}, "max_attempts": 7},
                               "train_subset": {"n_per_label": 4, "p_min": {"age": 0.1}, "name": "train-4"}})
    assert (splitter.n_test_per_label, splitter.validation_size, splitter.seed) == (5, 0.25, 3)
    assert (splitter.max_attempts, splitter.n_subset_per_label, splitter.subset_name) == (7, 4, "train-4")
