"""The ``classify`` section of params.yaml and of every profile: training parameters and training sets
are valid, and the thesis' protocol stays available (profiles/adni-aibl.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from medaug.classify.sets import run_list
from medaug.classify.selection import Selection
from medaug.classify.train import ClassifierTrainingConfig
from medaug.classify.trainsets import trainset_names, trainset_spec

ROOT = Path(__file__).resolve().parents[2]
PROFILES = [ROOT / "params.yaml", *sorted((ROOT / "profiles").glob("*.yaml"))]


def classify(path: Path) -> dict:
    return yaml.safe_load(path.read_text())["classify"]


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_every_profile_defines_a_valid_protocol_and_training_sets(profile: Path) -> None:
    params = classify(profile)
    config = ClassifierTrainingConfig.from_dict(params["training"])
    assert {"selection", "smoothing_window", "patience", "min_steps"} <= set(params["training"])
    assert config.selector.criterion == params["training"]["selection"]
    assert run_list(params)
    for name in trainset_names(params):
        trainset_spec(params, name)


def test_demo_protocol_and_the_augmented_synthetic_set() -> None:
    """The demo's protocol; real + classic + synthetic is a set of the study profile (the demo's grid
    leaves it out for time), under the same protocol."""
    params = classify(ROOT / "params.yaml")
    config = ClassifierTrainingConfig.from_dict(params["training"])
    assert config.selector.criterion == "validation_loss" and config.patience is not None
    assert config.budget.unit == "steps" and config.min_steps < config.budget.steps
    study = classify(ROOT / "profiles" / "demo-study.yaml")
    assert trainset_spec(study, "real-augmented-synthetic-200") == {"real": "train", "synthetic": 200,
                                                                    "augmentation": True}
    assert study["training"] == params["training"]


def test_thesis_protocol_profile() -> None:
    """Thesis sec. 1.5.5: 100 epochs, the epoch of best validation balanced accuracy, no early stopping."""
    config = ClassifierTrainingConfig.from_dict(classify(ROOT / "profiles" / "adni-aibl.yaml")["training"])
    assert config.budget.to_dict() == {"unit": "epochs", "epochs": 100}
    assert config.selector == Selection("balanced_accuracy", config.smoothing_window, None, config.min_steps)
