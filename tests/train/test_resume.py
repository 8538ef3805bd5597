"""medaug.train.resume: the run's fingerprint, when checkpoints are written, and starting or resuming."""

from __future__ import annotations

import logging
import math

import pytest
import torch

from medaug.train import TrainingConfig
from medaug.train import resume as resume_module
from medaug.train.resume import (
    Checkpointer,
    data_fingerprint,
    save_last_good,
    start_or_resume,
    training_fingerprint,
)
from medaug.train.snapshot import EpochSnapshot
from tests.train.test_trainer import _data, _model


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_data_fingerprint_follows_shape_and_values_not_the_dtype_or_item_content_order():
    data = torch.arange(24.0).reshape(4, 1, 2, 3)
    fingerprint = data_fingerprint(data)
    assert fingerprint.startswith("(4, 1, 2, 3):") and len(fingerprint.split(":")[1]) == 16
    assert data_fingerprint(data.double()) == fingerprint
    changed = data.clone()
    changed[2, 0, 1, 1] += 1.0
    assert data_fingerprint(changed) != fingerprint
    assert data_fingerprint(data[[1, 0, 2, 3]]) != fingerprint  # the item order matters
    assert data_fingerprint(data.reshape(4, 1, 3, 2)) != fingerprint
    assert data_fingerprint(None) is None


def test_training_fingerprint_ignores_the_settings_a_resume_may_change():
    model, train = _model(), _data(4)
    base = TrainingConfig(max_epochs=5, patience=3)
    reference = training_fingerprint(model, base, train, None)
    for changes in ({"max_epochs": 50}, {"patience": 9}, {"progress": False}, {"device": "cpu"},
                    {"checkpoint_every_s": 0.0}):
        assert training_fingerprint(model, TrainingConfig(**{**base.to_dict(), **changes}), train, None) == reference
    assert training_fingerprint(model, TrainingConfig(**{**base.to_dict(), "learning_rate": 0.5}), train, None) != reference
    assert training_fingerprint(model, base, train, _data(2, seed=1))["val_data"] is not None
    assert reference["model_type"] == model.model_type and reference["linear_start"] is None


def test_checkpointer_is_due_after_its_interval_and_always_with_interval_zero(tmp_path, monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(resume_module, "clock", clock)
    timed = Checkpointer(tmp_path / "state", tmp_path / "curve.tsv", {}, every_s=10.0, saved_epoch=0)
    every = Checkpointer(tmp_path / "state", tmp_path / "curve.tsv", {}, every_s=0.0, saved_epoch=0)
    clock.now = 109.9
    assert not timed.due() and every.due()
    clock.now = 110.0
    assert timed.due()


def _snapshot(epoch):
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.Adam(model.parameters())
    snapshot = EpochSnapshot()
    snapshot.capture(epoch, model, optimizer, {"epoch": epoch, "best_epoch": epoch, "history": []})
    return snapshot


def test_save_last_good_writes_only_an_epoch_no_checkpoint_holds(tmp_path, monkeypatch):
    written = []
    checkpointer = Checkpointer(tmp_path, tmp_path / "curve.tsv", {}, every_s=60.0, saved_epoch=3)
    monkeypatch.setattr(checkpointer, "write", lambda epoch, *args: written.append(epoch))
    save_last_good(checkpointer, _snapshot(3), [])
    assert written == []
    save_last_good(checkpointer, _snapshot(4), [])
    assert written == [4]


def test_save_last_good_logs_a_failed_write_instead_of_hiding_the_first_error(tmp_path, monkeypatch, caplog):
    checkpointer = Checkpointer(tmp_path, tmp_path / "curve.tsv", {}, every_s=60.0, saved_epoch=0)

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(checkpointer, "write", fail)
    with caplog.at_level(logging.ERROR, logger="medaug.train.resume"):
        save_last_good(checkpointer, _snapshot(2), [])
    assert "could not save the training state after epoch 2" in caplog.text and "disk full" in caplog.text


@pytest.mark.parametrize("select_from_start", [False, True])
def test_a_fresh_start_scores_the_start_and_keeps_it_only_with_select_from_start(tmp_path, select_from_start):
    model = _model()
    optimizer = torch.optim.Adam(model.parameters())
    config = TrainingConfig(select_from_start=select_from_start, learning_rate=0.01)
    counters, snapshot, checkpointer = start_or_resume(model, optimizer, _data(4), _data(2, seed=1), config,
                                                       tmp_path / "state", tmp_path / "curve.tsv", lambda m: -7.5)
    assert counters["start_elbo"] == -7.5 and counters["learning_rate"] == 0.01 and counters["epoch"] == 0
    assert counters["best_elbo"] == (-7.5 if select_from_start else -math.inf)
    assert (snapshot.best_state is not None) == select_from_start and snapshot.epoch == 0
    assert checkpointer.saved_epoch == 0


def test_a_fresh_start_without_validation_set_does_not_score_the_start(tmp_path):
    model = _model()
    scored = []
    counters, _, _ = start_or_resume(model, torch.optim.Adam(model.parameters()), _data(4), None,
                                     TrainingConfig(select_from_start=True), tmp_path, tmp_path / "c.tsv",
                                     lambda m: scored.append(m) or 0.0)
    assert scored == [] and math.isnan(counters["start_elbo"]) and counters["best_elbo"] == -math.inf
