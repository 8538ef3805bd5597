"""medaug.classify.checkpoint: a classifier saved as safetensors + JSON loads back to the same predictions."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from medaug.classify.checkpoint import CheckpointError, load_classifier, save_classifier
from medaug.classify.data import VolumeSet
from medaug.classify.evaluate import predict
from medaug.classify.labels import ClassLabels
from medaug.classify.networks import Conv5FC3, classifier_config

SHAPE = (16, 20, 16)


def _network() -> Conv5FC3:
    torch.manual_seed(0)
    return Conv5FC3(classifier_config("small", SHAPE))


def _volumes(n: int = 4) -> VolumeSet:
    generator = torch.Generator().manual_seed(1)
    table = pd.DataFrame({"participant_id": [f"sub-{i}" for i in range(n)], "session_id": "ses-M000",
                          "diagnosis": ["CN", "AD"] * (n // 2), "source": "real"})
    return VolumeSet(torch.rand(n, 1, *SHAPE, generator=generator), torch.tensor([0, 1] * (n // 2)), table)


def test_checkpoint_roundtrip_gives_the_same_predictions(tmp_path: Path) -> None:
    network = _network().eval()
    save_classifier(tmp_path / "ckpt", network, {"run": 0})
    model, metadata = load_classifier(tmp_path / "ckpt")
    assert metadata == {"run": 0} and not model.training
    pd.testing.assert_frame_equal(predict(network, _volumes(), device="cpu"), predict(model, _volumes(), device="cpu"))
    assert not any(p.name.startswith(".tmp-") for p in (tmp_path / "ckpt").iterdir())
    (tmp_path / "ckpt" / "model.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="model.json: not valid JSON"):
        load_classifier(tmp_path / "ckpt")


def test_the_json_records_the_labels_and_a_checkpoint_of_other_labels_is_refused(tmp_path: Path) -> None:
    save_classifier(tmp_path, _network(), classes=ClassLabels("HC", "PD"))
    description = json.loads((tmp_path / "model.json").read_text())
    assert description["labels"] == ["HC", "PD"] and description["metadata"] == {}
    assert description["format"] == "medaug-classifier"
    load_classifier(tmp_path, ClassLabels("HC", "PD"))
    with pytest.raises(CheckpointError, match=r"model.json: labels \['HC', 'PD'\] \(negative, positive\) differ"):
        load_classifier(tmp_path)  # the demo labels, CN / AD


def test_an_invalid_network_description_is_named(tmp_path: Path) -> None:
    save_classifier(tmp_path, _network())
    description = json.loads((tmp_path / "model.json").read_text())
    description["network"]["in_shape"] = [16, 20]  # two axes for a 3-D network
    (tmp_path / "model.json").write_text(json.dumps(description))
    with pytest.raises(CheckpointError, match="model.json: invalid network description"):
        load_classifier(tmp_path)


def test_weights_of_another_network_are_refused(tmp_path: Path) -> None:
    save_classifier(tmp_path / "a", _network())
    torch.manual_seed(0)
    save_classifier(tmp_path / "b", Conv5FC3(classifier_config("small", SHAPE, fc_features=(7, 5))))
    (tmp_path / "b" / "model.json").replace(tmp_path / "a" / "model.json")
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_classifier(tmp_path / "a")
