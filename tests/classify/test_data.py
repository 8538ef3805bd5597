"""Training-set assembly: real split volumes, synthetic volumes, and clear errors on bad input."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from medaug.classify.data import (
    ClassifierDataError,
    VolumeSet,
    concatenate,
    require_both_labels,
    split_volumes,
    synthetic_volumes,
)
from medaug.classify.labels import ClassLabels
from medaug.preprocess.model_ready import ModelReadyError, load_stack
from tests._classify_fixtures import SHAPE, make_classification_cohort


@pytest.fixture()
def cohort(tmp_path: Path) -> dict:
    return make_classification_cohort(tmp_path)


def _split(params: dict, name: str) -> pd.DataFrame:
    return pd.read_csv(Path(params["splits_dir"]) / "tiny" / f"{name}.tsv", sep="\t")


def _stack(params: dict, cohort: str = "tiny"):
    return load_stack(params["model_ready"].format(cohort=cohort))[:2]


def test_split_volumes_follow_the_split_order(cohort: dict) -> None:
    stack, index = _stack(cohort)
    train = _split(cohort, "train")
    volumes = split_volumes(stack, index, train, "train.tsv")
    assert volumes.images.shape == (len(train), 1, *SHAPE)
    assert list(volumes.table["participant_id"]) == list(train["participant_id"])
    row = int(index.set_index("participant_id").loc[train["participant_id"].iloc[3], "row"])
    assert np.array_equal(volumes.images[3, 0].numpy(), stack[row])
    assert volumes.counts() == {"CN": 12, "AD": 12}
    assert list(volumes.labels[:12]) == [0] * 12 and list(volumes.labels[12:]) == [1] * 12


def test_missing_volume_names_the_session(cohort: dict) -> None:
    stack, index = _stack(cohort)
    train = _split(cohort, "train")
    train.loc[2, "participant_id"] = "sub-GHOST"
    with pytest.raises(ModelReadyError, match="train.tsv: no model-ready volume .* sub-GHOST ses-M000"):
        split_volumes(stack, index, train, "train.tsv")


@pytest.mark.parametrize("diagnosis", [np.nan, "MCI"])
def test_missing_or_unknown_label_names_the_row(cohort: dict, diagnosis) -> None:
    stack, index = _stack(cohort)
    train = _split(cohort, "train")
    train["diagnosis"] = train["diagnosis"].astype(object)
    train.loc[4, "diagnosis"] = diagnosis
    with pytest.raises(ClassifierDataError, match=r"train.tsv: row 5 \(sub-T\d+\) has diagnosis"):
        split_volumes(stack, index, train, "train.tsv")


def test_nan_volume_names_the_participant(cohort: dict) -> None:
    stack, index = _stack(cohort)
    stack = np.array(stack)
    train = _split(cohort, "train")
    victim = train["participant_id"].iloc[1]
    stack[int(index.set_index("participant_id").loc[victim, "row"]), 3, 3, 3] = np.nan
    with pytest.raises(ClassifierDataError, match=f"volume of {victim} holds NaN"):
        split_volumes(stack, index, train, "train.tsv")


def test_synthetic_takes_the_first_n_per_label(cohort: dict) -> None:
    synthetic = synthetic_volumes(cohort["synthetic_dir"], 3)
    assert synthetic.counts() == {"CN": 3, "AD": 3}
    assert list(synthetic.table["participant_id"]) == [f"syn-CN-00000{i}" for i in range(3)] + \
        [f"syn-AD-00000{i}" for i in range(3)]
    assert set(synthetic.table["source"]) == {"synthetic"}
    ad = np.load(Path(cohort["synthetic_dir"]) / "AD" / "samples.npy")
    assert np.array_equal(synthetic.images[4, 0].numpy(), ad[1])


def test_empty_synthetic_set_is_an_error(cohort: dict) -> None:
    with pytest.raises(ClassifierDataError, match="empty synthetic set"):
        synthetic_volumes(cohort["synthetic_dir"], 0)


def test_too_few_synthetic_samples_names_the_table(cohort: dict) -> None:
    with pytest.raises(ClassifierDataError, match=r"CN/samples.tsv: 10 synthetic CN sample\(s\), 11 requested"):
        synthetic_volumes(cohort["synthetic_dir"], 11)


def test_synthetic_label_mismatch_names_the_row(cohort: dict) -> None:
    table_path = Path(cohort["synthetic_dir"]) / "AD" / "samples.tsv"
    table = pd.read_csv(table_path, sep="\t")
    table.loc[1, "diagnosis"] = "CN"
    table.to_csv(table_path, sep="\t", index=False)
    with pytest.raises(ClassifierDataError, match="row 2 \\(syn-AD-000001\\) has diagnosis 'CN'"):
        synthetic_volumes(cohort["synthetic_dir"], 5)


def test_synthetic_nifti_layout(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for label in ("CN", "AD"):
        directory = tmp_path / label
        directory.mkdir()
        names = []
        for i in range(2):
            name = f"syn-{label}-{i:06d}_T1w.nii.gz"
            nib.save(nib.Nifti1Image(rng.random(SHAPE).astype(np.float32), np.eye(4)), directory / name)
            names.append(name)
        pd.DataFrame({"participant_id": [n[:14] for n in names], "diagnosis": label, "path": names}).to_csv(
            directory / "samples.tsv", sep="\t", index=False)
    synthetic = synthetic_volumes(tmp_path, 2)
    expected = np.asarray(nib.load(tmp_path / "AD" / "syn-AD-000001_T1w.nii.gz").dataobj)
    assert np.array_equal(synthetic.images[3, 0].numpy(), expected)
    (tmp_path / "CN" / "syn-CN-000001_T1w.nii.gz").unlink()
    with pytest.raises(ClassifierDataError, match="syn-CN-000001_T1w.nii.gz: synthetic volume not found"):
        synthetic_volumes(tmp_path, 2)


def test_a_set_without_one_label_is_refused(cohort: dict) -> None:
    stack, index = _stack(cohort)
    train = _split(cohort, "train")
    only_cn = split_volumes(stack, index, train[train["diagnosis"] == "CN"], "train.tsv")
    with pytest.raises(ClassifierDataError, match="no AD image"):
        require_both_labels(only_cn, "training set")
    both = concatenate([only_cn, synthetic_volumes(cohort["synthetic_dir"], 2)])
    require_both_labels(both, "training set")
    assert len(both) == 12 + 4


def test_sessions_left_out_by_qc_are_dropped_and_others_still_fail(cohort: dict, tmp_path) -> None:
    from medaug.classify.data import qc_excluded_sessions

    stack, index = _stack(cohort)
    train = _split(cohort, "train")
    first = train.iloc[0]
    keep = index[~((index.participant_id == first.participant_id) & (index.session_id == first.session_id))]
    images = pd.DataFrame({"participant_id": [first.participant_id], "session_id": [first.session_id],
                           "in_model_ready": [False]})
    images.to_csv(tmp_path / "images.tsv", sep="\t", index=False)
    excluded = qc_excluded_sessions(tmp_path / "model_ready")
    assert excluded == {(first.participant_id, first.session_id)}
    volumes = split_volumes(stack, keep, train, "train.tsv", excluded=excluded)
    assert len(volumes.table) == len(train) - 1
    with pytest.raises(ModelReadyError, match="no model-ready volume"):
        split_volumes(stack, keep, train, "train.tsv")


# --- labels other than CN / AD (classify.labels {negative: HC, positive: PD}) ---

HC_PD = ClassLabels("HC", "PD")


@pytest.fixture()
def hc_pd(tmp_path: Path) -> dict:
    return make_classification_cohort(tmp_path, labels=HC_PD.names)


def test_hc_pd_volumes_carry_their_classes(hc_pd: dict) -> None:
    stack, index = _stack(hc_pd)
    volumes = split_volumes(stack, index, _split(hc_pd, "train"), "train.tsv", classes=HC_PD)
    assert volumes.counts() == {"HC": 12, "PD": 12} and volumes.classes == HC_PD
    assert list(volumes.labels[:12]) == [0] * 12 and list(volumes.labels[12:]) == [1] * 12
    synthetic = synthetic_volumes(hc_pd["synthetic_dir"], 3, classes=HC_PD)
    assert synthetic.counts() == {"HC": 3, "PD": 3}
    assert concatenate([volumes, synthetic]).counts() == {"HC": 15, "PD": 15}


def test_a_label_outside_the_two_names_file_row_and_participant(hc_pd: dict) -> None:
    stack, index = _stack(hc_pd)
    train = _split(hc_pd, "train")
    with pytest.raises(ClassifierDataError, match=r"train.tsv: row 1 \(sub-T000\) has diagnosis 'HC', expected one "
                                                  r"of \['CN', 'AD'\]"):
        split_volumes(stack, index, train, "train.tsv")   # the demo's classes on an HC / PD cohort
    train.loc[6, "diagnosis"] = "prodromal"
    with pytest.raises(ClassifierDataError, match=r"row 7 \(sub-T006\) has diagnosis 'prodromal', expected one of "
                                                  r"\['HC', 'PD'\] \(classify.labels"):
        split_volumes(stack, index, train, "train.tsv", classes=HC_PD)


def test_synthetic_labels_must_be_classes(hc_pd: dict) -> None:
    with pytest.raises(ClassifierDataError, match=r"synthetic label\(s\) \['HC'\] are not classes"):
        synthetic_volumes(hc_pd["synthetic_dir"], 2, ["HC"], classes=ClassLabels("CN", "PD"))


def test_sets_of_different_classes_are_not_combined(hc_pd: dict) -> None:
    synthetic = synthetic_volumes(hc_pd["synthetic_dir"], 2, classes=HC_PD)
    relabelled = VolumeSet(synthetic.images, synthetic.labels, synthetic.table, ClassLabels("HC", "ET"))
    with pytest.raises(ClassifierDataError, match="different classes"):
        concatenate([synthetic, relabelled])
