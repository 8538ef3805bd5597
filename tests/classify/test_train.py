"""Classifier training: it learns, keeps the best validation epoch, and is deterministic on CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from medaug.classify.augment import AugmentationConfig, ClassicAugmentation
from medaug.classify.budget import TrainingBudget
from medaug.classify.data import ClassifierDataError, VolumeSet, split_volumes
from medaug.preprocess.model_ready import load_stack
from medaug.classify.evaluate import predict, prediction_metrics
from medaug.classify.networks import classifier_config
from medaug.classify.train import ClassifierTrainingConfig, train_classifier
from tests._classify_fixtures import SHAPE, make_classification_cohort


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> dict[str, VolumeSet]:
    params = make_classification_cohort(tmp_path_factory.mktemp("cohort"))
    stack, index, _ = load_stack(params["model_ready"].format(cohort="tiny"))
    splits = Path(params["splits_dir"]) / "tiny"
    return {name: split_volumes(stack, index, pd.read_csv(splits / f"{name}.tsv", sep="\t"), name)
            for name in ("train", "validation", "test")}


def _config(epochs: int = 4, **overrides) -> ClassifierTrainingConfig:
    values = {"budget": TrainingBudget.of_epochs(epochs), "batch_size": 4, "learning_rate": 1e-3, "seed": 3,
              "device": "cpu", "progress": False}
    return ClassifierTrainingConfig(**{**values, **overrides})


def _network():
    return classifier_config("small", SHAPE)


def test_learns_and_keeps_the_best_validation_epoch(sets) -> None:
    """The thesis' protocol (selection balanced_accuracy): the epoch of best validation BA is kept."""
    result = train_classifier(_network(), sets["train"], sets["validation"], _config(epochs=6, selection="balanced_accuracy"))
    history = result.history
    assert list(history["epoch"]) == list(range(1, 7))
    assert list(history["step"]) == [6 * e for e in range(1, 7)]   # 24 images in batches of 4
    assert result.steps == 36 and result.images_seen == 6 * 24
    best = history["validation_balanced_accuracy"].max()
    kept = history.loc[history["kept"]].iloc[0]
    assert int(kept["epoch"]) == result.best_epoch and int(kept["step"]) == result.best_step
    assert kept["validation_balanced_accuracy"] == best
    # among the epochs with the best BA, the lowest validation loss is kept
    assert kept["validation_loss"] == history.loc[history["validation_balanced_accuracy"] == best, "validation_loss"].min()
    # the returned weights are that epoch's: re-evaluating gives its validation loss
    with torch.no_grad():
        logits = result.model(sets["validation"].images)
    loss = torch.nn.functional.cross_entropy(logits, sets["validation"].labels)
    assert float(loss) == pytest.approx(kept["validation_loss"], rel=1e-5)
    metrics = prediction_metrics(predict(result.model, sets["test"], device="cpu"))
    assert metrics["balanced_accuracy"] >= 0.75 and metrics["roc_auc"] >= 0.8


def test_same_seed_same_bytes_other_seed_differs(sets) -> None:
    a = train_classifier(_network(), sets["train"], sets["validation"], _config(epochs=2))
    b = train_classifier(_network(), sets["train"], sets["validation"], _config(epochs=2))
    c = train_classifier(_network(), sets["train"], sets["validation"], _config(epochs=2, seed=4))
    for key, value in a.model.state_dict().items():
        assert torch.equal(value, b.model.state_dict()[key]), key
    pd.testing.assert_frame_equal(a.history, b.history)
    assert not torch.equal(a.model.state_dict()["features.1.weight"], c.model.state_dict()["features.1.weight"])


def test_augmentation_is_seeded_and_changes_images(sets) -> None:
    images = sets["train"].images[:4]
    config = AugmentationConfig(affine_prob=1.0, elastic_prob=1.0, bias_field_prob=1.0, noise_prob=1.0)
    first = ClassicAugmentation(config, SHAPE, seed=1).batch(images)
    again = ClassicAugmentation(config, SHAPE, seed=1).batch(images)
    other = ClassicAugmentation(config, SHAPE, seed=2).batch(images)
    assert type(first) is torch.Tensor and first.shape == images.shape and first.dtype == torch.float32
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert not torch.allclose(first, images, atol=1e-3)
    result = train_classifier(_network(), sets["train"], sets["validation"], _config(epochs=1),
                              ClassicAugmentation(AugmentationConfig(), SHAPE, seed=1))
    assert np.isfinite(result.history["train_loss"]).all()


def test_one_label_training_set_is_refused(sets) -> None:
    train = sets["train"]
    only_cn = VolumeSet(train.images[:12], train.labels[:12], train.table.iloc[:12])
    with pytest.raises(ClassifierDataError, match="training set: no AD image"):
        train_classifier(_network(), only_cn, sets["validation"], _config())


# --- training budget ------------------------------------------------------------------------------

def test_step_budget_is_the_same_for_sets_of_different_sizes(sets) -> None:
    train = sets["train"]                                   # 24 images: 6 batches of 4 per pass
    small = VolumeSet(train.images[::2], train.labels[::2], train.table.iloc[::2])   # 12 images: 3 batches
    budget = TrainingBudget.of_steps(10, 4)
    results = {name: train_classifier(_network(), volumes, sets["validation"], _config(budget=budget))
               for name, volumes in (("large", train), ("small", small))}
    for name, result in results.items():
        assert result.steps == 10 and result.images_seen == 40, name
        # validation after steps 4 and 8, then after the last step
        assert list(result.history["step"]) == [4, 8, 10], name
        assert list(result.history["images_seen"]) == [16, 32, 40], name
        assert result.best_step in (4, 8, 10)
    assert list(results["large"].history["epoch"]) == pytest.approx([16 / 24, 32 / 24, 40 / 24])
    assert list(results["small"].history["epoch"]) == pytest.approx([16 / 12, 32 / 12, 40 / 12])


def test_step_budget_draws_the_same_batches_as_the_epoch_schedule(sets) -> None:
    """Steps = 2 epochs of 6 batches, validated once per pass: the same training, step for step."""
    by_epochs = train_classifier(_network(), sets["train"], sets["validation"], _config(epochs=2))
    by_steps = train_classifier(_network(), sets["train"], sets["validation"],
                                _config(budget=TrainingBudget.of_steps(12, 6)))
    pd.testing.assert_frame_equal(by_epochs.history, by_steps.history)
    for key, value in by_epochs.model.state_dict().items():
        assert torch.equal(value, by_steps.model.state_dict()[key]), key


def test_the_training_config_reads_its_budget() -> None:
    with pytest.raises(ValueError, match="training.epochs is not a parameter: set classify.training.budget"):
        ClassifierTrainingConfig.from_dict({"epochs": 3})
    config = ClassifierTrainingConfig.from_dict({"budget": {"unit": "steps", "steps": 20, "eval_every": 5}}, seed=1)
    assert config.budget.to_dict() == {"unit": "steps", "steps": 20, "eval_every": 5} and config.seed == 1
