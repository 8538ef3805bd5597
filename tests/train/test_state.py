"""medaug.train.state: the resumable training state round-trips and belongs to one fingerprint."""

from __future__ import annotations

import json

import torch

from medaug.train.state import load_training_state, save_training_state


def _trained(seed: int):
    torch.manual_seed(seed)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    return model, optimizer


def test_state_round_trips_and_a_best_equal_to_the_model_is_stored_once(tmp_path):
    model, optimizer = _trained(0)
    counters = {"epoch": 3, "best_epoch": 3, "history": [{"epoch": 1}, {"epoch": 2}, {"epoch": 3}]}
    fingerprint = {"model": "linear", "data": "abc"}
    weights = model.state_dict()
    save_training_state(tmp_path, 3, weights, weights, optimizer.state_dict(), counters, fingerprint)
    document = json.loads((tmp_path / "state.json").read_text())
    assert document["best_is_model"] is True and document["epoch"] == 3

    fresh, fresh_optimizer = _trained(1)
    trainer, best = load_training_state(tmp_path, fresh, fresh_optimizer, fingerprint)
    assert trainer == counters
    for name, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], value) and torch.equal(best[name], value)
    saved, restored = optimizer.state_dict()["state"], fresh_optimizer.state_dict()["state"]
    assert all(torch.equal(saved[i]["exp_avg"], restored[i]["exp_avg"]) for i in saved)


def test_another_fingerprint_or_no_state_starts_afresh(tmp_path):
    model, optimizer = _trained(0)
    assert load_training_state(tmp_path, model, optimizer, {"a": 1}) is None
    save_training_state(tmp_path, 1, model.state_dict(), None, optimizer.state_dict(), {"epoch": 1}, {"a": 1})
    assert load_training_state(tmp_path, model, optimizer, {"a": 2}) is None
    trainer, best = load_training_state(tmp_path, model, optimizer, {"a": 1})
    assert trainer == {"epoch": 1} and best is None
