"""medaug.checkpoint: one reader, one wording of its errors, for model and classifier checkpoints."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from medaug.checkpoint import CheckpointError, load_state_checked, read_description


def _write(directory, description, tensors=None):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.json").write_text(description if isinstance(description, str) else json.dumps(description))
    save_file(tensors or {"w": torch.zeros(2, 3)}, str(directory / "model.safetensors"))


def test_read_description_names_the_file_of_each_fault(tmp_path):
    _write(tmp_path / "ok", {"format": "medaug-x", "version": 1, "payload": 3})
    assert read_description(tmp_path / "ok", "medaug-x", 1, "version")["payload"] == 3
    with pytest.raises(CheckpointError, match=r"nothing/model.json: file not found"):
        read_description(tmp_path / "nothing", "medaug-x", 1, "version")
    (tmp_path / "ok" / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"ok/model.safetensors: file not found"):
        read_description(tmp_path / "ok", "medaug-x", 1, "version")
    _write(tmp_path / "bad", "{not json")
    with pytest.raises(CheckpointError, match=r"bad/model.json: not valid JSON"):
        read_description(tmp_path / "bad", "medaug-x", 1, "version")
    _write(tmp_path / "other", {"format": "medaug-x", "format_version": 2})
    with pytest.raises(CheckpointError, match=r"other/model.json: not a medaug-x checkpoint of format_version 1 "
                                              r"\(format 'medaug-x', format_version 2\)"):
        read_description(tmp_path / "other", "medaug-x", 1, "format_version")
    _write(tmp_path / "list", "[1, 2]")
    with pytest.raises(CheckpointError, match="list/model.json: not a medaug-x checkpoint"):
        read_description(tmp_path / "list", "medaug-x", 1, "version")


def test_load_state_checked_names_missing_tensors_and_wrong_shapes():
    model = torch.nn.Linear(3, 2)
    state = {k: v.clone() + 1 for k, v in model.state_dict().items()}
    load_state_checked(model, state, "w.safetensors")
    assert torch.equal(model.weight, state["weight"])
    with pytest.raises(CheckpointError, match=r"w.safetensors: tensors do not match the description \(missing \['bias'\]"):
        load_state_checked(model, {"weight": state["weight"]}, "w.safetensors")
    with pytest.raises(CheckpointError, match=r"w.safetensors: tensor weight has shape \(4, 3\), the description gives \(2, 3\)"):
        load_state_checked(model, {**state, "weight": torch.zeros(4, 3)}, "w.safetensors")
    with pytest.raises(CheckpointError, match=r"tensor weight has shape \(4, 2\)"):  # resizable: first dimension only
        load_state_checked(model, {**state, "weight": torch.zeros(4, 2)}, "w.safetensors", resizable=("weight",))
