"""medaug.volumes: one label's model-ready volumes of a split (stages train_vae and sample)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from medaug.volumes import load_label_volumes, training_and_validation_volumes


def _write_stack(tmp_path) -> np.ndarray:
    stack = np.arange(4 * 2 * 3 * 2, dtype=np.float32).reshape(4, 2, 3, 2)
    np.save(tmp_path / "stack.npy", stack)
    index = pd.DataFrame({"participant_id": ["sub-1", "sub-2", "sub-3", "sub-4"], "session_id": ["ses-M000"] * 4, "row": range(4)})
    index.to_csv(tmp_path / "stack.tsv", sep="\t", index=False)
    (tmp_path / "stack.json").write_text(json.dumps({"shape": [2, 3, 2]}))
    return stack


def test_keeps_one_label_of_one_split_and_names_missing_sessions(tmp_path):
    stack = _write_stack(tmp_path)
    split = pd.DataFrame({"participant_id": ["sub-4", "sub-2", "sub-3"], "session_id": ["ses-M000"] * 3, "diagnosis": ["AD", "CN", "AD"]})
    split.to_csv(tmp_path / "train.tsv", sep="\t", index=False)
    volumes, rows = load_label_volumes(tmp_path / "stack", tmp_path / "train.tsv", "AD")
    assert volumes.shape == (2, 1, 2, 3, 2) and volumes.dtype == torch.float32
    assert torch.equal(volumes[:, 0], torch.from_numpy(stack[[3, 2]]))
    assert list(rows["participant_id"]) == ["sub-4", "sub-3"]
    split.loc[0, "participant_id"] = "sub-9"
    split.to_csv(tmp_path / "train.tsv", sep="\t", index=False)
    with pytest.raises(ValueError, match="train.tsv: no model-ready volume for 1 session.*sub-9 ses-M000"):
        load_label_volumes(tmp_path / "stack", tmp_path / "train.tsv", "AD")


def test_split_labels_lists_each_label_once_and_needs_the_column(tmp_path):
    from medaug.volumes import split_labels

    pd.DataFrame({"participant_id": ["sub-1", "sub-2", "sub-3"], "diagnosis": ["CN", "AD", "CN"]}).to_csv(
        tmp_path / "train.tsv", sep="\t", index=False)
    assert split_labels(tmp_path / "train.tsv") == ["AD", "CN"]
    pd.DataFrame({"participant_id": ["sub-1"]}).to_csv(tmp_path / "bad.tsv", sep="\t", index=False)
    with pytest.raises(ValueError, match="bad.tsv"):
        split_labels(tmp_path / "bad.tsv")


def test_training_and_validation_volumes_of_the_train_vae_params(tmp_path):
    stack = _write_stack(tmp_path)
    split = lambda ids, labels: pd.DataFrame({"participant_id": ids, "session_id": ["ses-M000"] * len(ids),  # noqa: E731
                                              "diagnosis": labels})
    split(["sub-1", "sub-2", "sub-3"], ["AD", "CN", "AD"]).to_csv(tmp_path / "train.tsv", sep="\t", index=False)
    split(["sub-4"], ["AD"]).to_csv(tmp_path / "validation.tsv", sep="\t", index=False)
    params = {"stack": str(tmp_path / "stack"), "splits_dir": str(tmp_path), "train_split": "train",
              "validation_split": "validation"}
    train, val = training_and_validation_volumes(params, "AD")
    assert torch.equal(train[:, 0], torch.from_numpy(stack[[0, 2]])) and torch.equal(val[:, 0], torch.from_numpy(stack[[3]]))
    assert training_and_validation_volumes({**params, "validation_split": None}, "AD")[1] is None
    with pytest.raises(ValueError, match="train.tsv: no MCI volumes"):
        training_and_validation_volumes(params, "MCI")

