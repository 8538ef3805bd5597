"""Selection of the kept checkpoint and early stopping: planted validation histories, then training
with planted validation scores (the network's own scores are replaced, so the stop is exact)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from medaug.classify import train as train_module
from medaug.classify.budget import TrainingBudget
from medaug.classify.data import VolumeSet, split_volumes
from medaug.classify.networks import classifier_config
from medaug.classify.selection import (
    CRITERIA,
    Selection,
    criterion_scores,
    kept_in_last_fifth,
    kept_index,
    patience_exhausted,
    replay,
)
from medaug.classify.train import ClassifierTrainingConfig, train_classifier
from medaug.preprocess.model_ready import load_stack
from tests._classify_fixtures import SHAPE, make_classification_cohort

# step, validation loss, BA, AUC: each criterion has its own best row
PLANTED = [
    (18, 0.70, 0.50, 0.60),
    (36, 0.55, 0.60, 0.70),
    (54, 0.40, 0.65, 0.80),   # lowest loss
    (72, 0.45, 0.90, 0.75),   # BA spike: the argmax of BA
    (90, 0.50, 0.55, 0.95),   # best AUC
    (108, 0.48, 0.75, 0.85),
    (126, 0.47, 0.75, 0.85),
    (144, 0.46, 0.75, 0.85),  # best BA over 3 validations (0.75) - the spike's windows reach 0.73 at most
]


def rows(planted=PLANTED) -> list[dict[str, float]]:
    return [{"step": s, "validation_loss": loss, "validation_balanced_accuracy": ba, "validation_roc_auc": auc}
            for s, loss, ba, auc in planted]


@pytest.mark.parametrize(("criterion", "step"), [("validation_loss", 54), ("balanced_accuracy", 72), ("auc", 90),
                                                  ("smoothed_ba", 144)])
def test_each_criterion_keeps_its_planted_step(criterion: str, step: int) -> None:
    history = rows()
    assert history[kept_index(history, Selection(criterion, smoothing_window=3))]["step"] == step


def test_smoothed_ba_is_the_trailing_mean_and_waits_for_a_full_window() -> None:
    scores = criterion_scores(rows(), Selection("smoothed_ba", smoothing_window=3))
    assert scores[:2] == [-math.inf, -math.inf]
    assert scores[3] == pytest.approx((0.60 + 0.65 + 0.90) / 3) and scores[7] == pytest.approx(0.75)
    # fewer validations than the window: every row ranks the same, the lowest loss wins
    assert kept_index(rows()[:2], Selection("smoothed_ba", smoothing_window=3)) == 1
    # a window of one is the plain balanced accuracy
    assert kept_index(rows(), Selection("smoothed_ba", smoothing_window=1)) == 3


def test_ties_go_to_the_lower_loss_then_to_the_earlier_step() -> None:
    tied = rows([(10, 0.5, 0.8, 0.9), (20, 0.4, 0.8, 0.9), (30, 0.4, 0.8, 0.9), (40, 0.6, 0.7, 0.9)])
    for criterion in ("balanced_accuracy", "auc", "validation_loss"):
        assert tied[kept_index(tied, Selection(criterion))]["step"] == 20, criterion
    backwards = list(reversed(tied))   # steps 40, 30, 20, 10: the earlier step wins, not the first row
    assert backwards[kept_index(backwards, Selection("balanced_accuracy"))]["step"] == 20


def test_nan_auc_never_wins() -> None:
    history = rows([(10, 0.5, 0.6, float("nan")), (20, 0.6, 0.6, 0.55)])
    assert kept_index(history, Selection("auc")) == 1


def test_patience_counts_validations_after_the_kept_one() -> None:
    selection = Selection(patience=3)
    assert not patience_exhausted(5, 2, 50, selection)       # validations 3, 4 after the kept 2
    assert patience_exhausted(6, 2, 60, selection)           # 3, 4, 5
    assert not patience_exhausted(100, 0, 1000, Selection(patience=None))
    floor = Selection(patience=3, min_steps=100)
    assert not patience_exhausted(6, 2, 90, floor) and patience_exhausted(6, 2, 100, floor)


def test_replay_stops_where_training_would() -> None:
    history = rows()   # losses 0.70 0.55 0.40 0.45 0.50 0.48 0.47 0.46: best at 2, no better after
    assert replay(history, Selection(patience=3)) == (2, 5)
    assert replay(history, Selection(patience=5)) == (2, 7)      # patience exhausted at the last row
    assert replay(history, Selection(patience=None)) == (2, 7)
    assert replay(history, Selection(patience=3, min_steps=120)) == (2, 6)   # no stop before step 120
    assert replay(history, Selection("balanced_accuracy", patience=1)) == (3, 4)  # the BA spike, then a drop
    assert replay(history, Selection("auc", patience=1)) == (2, 3)   # AUC 0.80 then 0.75: stop after one


def test_kept_in_last_fifth_of_the_cap() -> None:
    assert not kept_in_last_fifth(432, 540)    # exactly 0.8 x cap: not in the last fifth
    assert kept_in_last_fifth(433, 540) and kept_in_last_fifth(540, 540)
    assert not kept_in_last_fifth(18, 540) and kept_in_last_fifth(1, 1)
    with pytest.raises(ValueError, match="outside a budget"):
        kept_in_last_fifth(600, 540)


def test_selection_parameters_are_checked() -> None:
    assert set(CRITERIA) == {"validation_loss", "auc", "smoothed_ba", "balanced_accuracy"}
    with pytest.raises(ValueError, match="selection must be one of"):
        ClassifierTrainingConfig.from_dict({"selection": "accuracy"})
    with pytest.raises(ValueError, match="patience must be an integer >= 1 or null"):
        ClassifierTrainingConfig.from_dict({"patience": 0})
    with pytest.raises(ValueError, match="smoothing_window"):
        ClassifierTrainingConfig.from_dict({"smoothing_window": 0})
    with pytest.raises(ValueError, match="min_steps"):
        ClassifierTrainingConfig.from_dict({"min_steps": -1})
    config = ClassifierTrainingConfig.from_dict({"selection": "auc", "patience": 4, "smoothing_window": 3, "min_steps": 9})
    assert config.selector == Selection("auc", 3, 4, 9)
    assert ClassifierTrainingConfig().selector == Selection("validation_loss", 5, None, 0)


# --- early stopping in training, with planted validation scores ---------------------------------------

@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> dict[str, VolumeSet]:
    params = make_classification_cohort(tmp_path_factory.mktemp("cohort"))
    stack, index, _ = load_stack(params["model_ready"].format(cohort="tiny"))
    splits = Path(params["splits_dir"]) / "tiny"
    return {name: split_volumes(stack, index, pd.read_csv(splits / f"{name}.tsv", sep="\t"), name)
            for name in ("train", "validation")}


def _plant(monkeypatch, losses: list[float]) -> None:
    """Replace the validation scores by ``losses`` in order (BA and AUC constant)."""
    scores = iter(losses)
    monkeypatch.setattr(train_module, "_validation_scores", lambda *_: {
        "validation_loss": next(scores), "validation_balanced_accuracy": 0.5, "validation_roc_auc": 0.5})


def _train(sets, cap: int, patience: int | None, min_steps: int = 0):
    config = ClassifierTrainingConfig(budget=TrainingBudget.of_steps(cap, 2), batch_size=4, seed=3, device="cpu",
                                      progress=False, selection="validation_loss", patience=patience,
                                      min_steps=min_steps)
    return train_classifier(classifier_config("small", SHAPE), sets["train"], sets["validation"], config)


def test_training_stops_after_patience_and_keeps_the_best_weights(sets, monkeypatch) -> None:
    _plant(monkeypatch, [0.7, 0.5, 0.4, 0.45, 0.5, 0.41, 0.3, 0.2, 0.1, 0.05])
    result = _train(sets, cap=20, patience=3)
    assert result.stop_reason == "patience"
    assert result.best_step == 6 and result.steps == 12 and result.cap == 20    # kept 3rd, 3 more, stop
    assert result.history["step"].tolist() == [2, 4, 6, 8, 10, 12]
    assert result.history.loc[result.history["kept"], "step"].tolist() == [6]
    assert result.images_seen == 12 * 4
    assert not kept_in_last_fifth(result.best_step, result.cap)
    # the kept weights are those after step 6: the same as a run capped at 6 steps
    _plant(monkeypatch, [0.7, 0.5, 0.4])
    short = _train(sets, cap=6, patience=None)
    for key, value in short.model.state_dict().items():
        assert torch.equal(value, result.model.state_dict()[key]), key


def test_without_patience_training_runs_to_the_cap(sets, monkeypatch) -> None:
    _plant(monkeypatch, [0.7, 0.5, 0.4, 0.45, 0.5, 0.41, 0.42, 0.43, 0.44, 0.46])
    result = _train(sets, cap=20, patience=None)
    assert result.stop_reason == "cap" and result.steps == 20 and result.best_step == 6
    _plant(monkeypatch, [0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.09, 0.08, 0.07])
    still_improving = _train(sets, cap=20, patience=3)
    assert still_improving.stop_reason == "cap" and still_improving.best_step == 20
    assert kept_in_last_fifth(still_improving.best_step, still_improving.cap)


def test_no_early_stop_before_min_steps(sets, monkeypatch) -> None:
    losses = [0.7, 0.5, 0.4, 0.45, 0.5, 0.41, 0.42, 0.43, 0.44, 0.46]
    _plant(monkeypatch, losses)
    result = _train(sets, cap=20, patience=3, min_steps=16)
    assert result.stop_reason == "patience" and result.steps == 16 and result.best_step == 6
    assert replay([{"step": 2 * (i + 1), "validation_loss": v} for i, v in enumerate(losses)],
                  Selection(patience=3, min_steps=16)) == (2, 7)   # replay agrees with training


def test_patience_reached_at_the_last_validation_is_a_stop_at_the_cap(sets, monkeypatch) -> None:
    _plant(monkeypatch, [0.7, 0.5, 0.6, 0.6])
    result = _train(sets, cap=8, patience=2)
    assert result.stop_reason == "cap" and result.steps == 8 and result.best_step == 4
