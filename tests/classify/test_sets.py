"""medaug.classify.sets: the training, validation and test volumes read from the classify parameters."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

from medaug.classify.data import ClassifierDataError
from medaug.classify.sets import (
    build_training_set,
    checked_splits,
    load_test_cohorts,
    run_list,
    split_set,
    training_data,
)
from tests._classify_fixtures import EXTERNAL_PER_LABEL, SHAPE, SPLIT_SIZES, make_classification_cohort


@pytest.fixture()
def params(tmp_path: Path) -> dict:
    return make_classification_cohort(tmp_path)


@pytest.mark.parametrize(("runs", "expected"), [([0, 1], [0, 1]), ([3, 0], [3, 0]), (("2",), [2])])
def test_run_list_keeps_the_order(runs, expected):
    assert run_list({"runs": runs}) == expected


@pytest.mark.parametrize("runs", [None, [], "0,1", [0, 0], [-1], 3])
def test_run_list_refuses_what_is_not_distinct_indices(runs):
    with pytest.raises(ValueError, match="classify.runs"):
        run_list({"runs": runs})


def test_split_set_reads_the_split_in_its_table_order(params):
    splits = checked_splits(params)
    assert sorted(splits) == ["test", "train", "train-50", "validation"]
    train = split_set(params, splits, "train")
    assert train.spatial_shape == SHAPE and len(train) == 2 * SPLIT_SIZES["train"]
    assert list(train.table["participant_id"]) == list(splits["train"]["participant_id"])
    assert train.counts() == {"CN": SPLIT_SIZES["train"], "AD": SPLIT_SIZES["train"]}
    with pytest.raises(ClassifierDataError, match=r"splits/tiny: no split 'train-10' \(found \['test', 'train'"):
        split_set(params, splits, "train-10")


def test_a_training_set_puts_real_images_before_the_first_synthetic_ones(params):
    splits = checked_splits(params)
    mixed = build_training_set(params, {"real": "train-50", "synthetic": 3}, splits)
    n_real = len(splits["train-50"])
    assert len(mixed) == n_real + 2 * 3
    assert list(mixed.table["source"]) == ["real"] * n_real + ["synthetic"] * 6
    synthetic_ids = sorted(mixed.table["participant_id"].iloc[n_real:])
    assert synthetic_ids == sorted(f"syn-{label}-{i:06d}" for label in ("CN", "AD") for i in range(3))


def test_a_training_set_without_one_class_names_the_files_read(params):
    for name in ("train", "train-50"):
        path = Path(params["splits_dir"]) / "tiny" / f"{name}.tsv"
        table = pd.read_csv(path, sep="\t")
        table[table["diagnosis"] == "CN"].to_csv(path, sep="\t", index=False)
    with pytest.raises(ClassifierDataError, match=r"tiny/train.tsv: no image of 'AD' \(\{'CN': 12, 'AD': 0\}\)"):
        build_training_set(params, {"real": "train"}, checked_splits(params))
    filled = build_training_set(params, {"real": "train-50", "synthetic": 2}, checked_splits(params))
    assert filled.counts() == {"CN": 6 + 2, "AD": 2}  # synthetic images supply the missing class


def test_training_data_marks_the_real_images_for_augmentation_and_sizes_the_network(params):
    params["synthetic_trainsets"]["real-synthetic"] = {"real": "train-50", "synthetic": 2}
    data = training_data(params, "real-synthetic")
    n_real = SPLIT_SIZES["train"]  # train-50 holds half of both labels
    assert data.augmented.tolist() == [True] * n_real + [False] * 4
    assert len(data.validation) == 2 * SPLIT_SIZES["validation"] and data.trainset == "real-synthetic"
    assert data.network.in_shape == SHAPE and data.network.dropout == params["network"]["dropout"]


def test_test_cohorts_are_the_test_split_then_each_external_cohort(params):
    cohorts = load_test_cohorts(params)
    assert list(cohorts) == ["tiny", "ext"]
    assert len(cohorts["tiny"]) == 2 * SPLIT_SIZES["test"] and len(cohorts["ext"]) == 2 * EXTERNAL_PER_LABEL


def test_a_test_cohort_with_one_class_is_logged_not_refused(params, caplog):
    path = Path(params["splits_dir"]) / "ext" / "test.tsv"
    table = pd.read_csv(path, sep="\t")
    table[table["diagnosis"] == "AD"].to_csv(path, sep="\t", index=False)
    with caplog.at_level(logging.WARNING, logger="medaug.classify.sets"):
        cohorts = load_test_cohorts(params)
    assert cohorts["ext"].counts() == {"CN": 0, "AD": EXTERNAL_PER_LABEL}
    assert "ext/test.tsv: test cohort ext has no CN image" in caplog.text


def test_a_missing_test_split_is_named(params):
    (Path(params["splits_dir"]) / "tiny" / "test.tsv").unlink()
    with pytest.raises(FileNotFoundError, match=r"splits/tiny/test.tsv: test split not found"):
        load_test_cohorts(params)
