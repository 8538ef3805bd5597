"""medaug.train.snapshot: the in-memory copy of the last completed epoch and of the best weights."""

from __future__ import annotations

import pytest
import torch

from medaug.train.snapshot import EpochSnapshot
from tests.train.test_trainer import _data, _model


def test_snapshot_keeps_the_best_weights_apart_and_restores_model_and_moments():
    model, data = _model(), _data(4)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    def step():
        optimizer.zero_grad()
        model(data).loss.backward()
        optimizer.step()

    def copies():
        return {k: v.clone() for k, v in model.state_dict().items()}, {
            (i, k): v.clone() for i, s in optimizer.state_dict()["state"].items() for k, v in s.items()}

    snapshot = EpochSnapshot()
    step()
    snapshot.capture(1, model, optimizer, {"epoch": 1, "history": [{}]}, is_best=True)
    best_weights = copies()[0]
    step()
    snapshot.capture(2, model, optimizer, {"epoch": 2, "history": [{}, {}]})
    weights, moments = copies()
    step()
    step()
    snapshot.restore(model, optimizer)
    assert snapshot.epoch == 2 and snapshot.trainer_counters([{}, {}, {}])["history"] == [{}, {}]
    for name, value in model.state_dict().items():
        assert torch.equal(value, weights[name]) and torch.equal(snapshot.best_state[name], best_weights[name]), name
    for (index, key), value in copies()[1].items():
        assert torch.equal(value, moments[(index, key)]), (index, key)
    step()  # the optimiser does not write into the snapshot's buffers
    assert all(torch.equal(snapshot.model_state[k], v) for k, v in weights.items())


def _two_group_adam():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))
    optimizer = torch.optim.Adam([{"params": model[0].parameters(), "lr": 0.1},
                                  {"params": model[1].parameters(), "lr": 0.01}])
    return model, optimizer


def _adam_step(model, optimizer):
    optimizer.zero_grad()
    model(torch.ones(4, 3)).sum().backward()
    optimizer.step()


def test_restore_before_a_complete_capture_is_an_error():
    model, optimizer = _two_group_adam()
    with pytest.raises(RuntimeError, match="no complete snapshot"):
        EpochSnapshot().restore(model, optimizer)


def test_optimizer_state_numbers_parameters_across_groups_like_torch():
    model, optimizer = _two_group_adam()
    _adam_step(model, optimizer)
    snapshot = EpochSnapshot()
    snapshot.capture(1, model, optimizer, {"epoch": 1})
    captured, reference = snapshot.optimizer_state(), optimizer.state_dict()
    assert [g["params"] for g in captured["param_groups"]] == [[0, 1], [2, 3]]
    assert [g["lr"] for g in captured["param_groups"]] == [0.1, 0.01]
    assert sorted(captured["state"]) == sorted(reference["state"]) == [0, 1, 2, 3]
    for index, entries in reference["state"].items():
        for key, value in entries.items():
            assert torch.equal(captured["state"][index][key], value), (index, key)


def test_optimizer_state_clone_gives_tensors_apart_from_the_buffers():
    model, optimizer = _two_group_adam()
    _adam_step(model, optimizer)
    snapshot = EpochSnapshot()
    snapshot.capture(1, model, optimizer, {"epoch": 1})
    shared, cloned = snapshot.optimizer_state(), snapshot.optimizer_state(clone=True)
    cloned["state"][0]["exp_avg"].add_(1.0)
    assert not torch.equal(cloned["state"][0]["exp_avg"], snapshot.optimizer_state()["state"][0]["exp_avg"])
    shared["state"][0]["exp_avg"].add_(1.0)  # the uncloned tensor is the buffer itself
    assert torch.equal(shared["state"][0]["exp_avg"], snapshot.optimizer_state()["state"][0]["exp_avg"])


def test_capture_after_the_first_adam_step_reallocates_and_keeps_the_earlier_best():
    model, optimizer = _two_group_adam()
    snapshot = EpochSnapshot()
    snapshot.capture(0, model, optimizer, {"epoch": 0}, is_best=True)  # no Adam state yet
    start = {k: v.clone() for k, v in model.state_dict().items()}
    assert snapshot.optimizer_state()["state"] == {}
    _adam_step(model, optimizer)
    snapshot.capture(1, model, optimizer, {"epoch": 1, "best_elbo": 2.0, "history": [{"a": 1.0}]})
    assert sorted(snapshot.optimizer_state()["state"]) == [0, 1, 2, 3]
    assert all(torch.equal(snapshot.best_state[k], v) for k, v in start.items())
    assert all(torch.equal(snapshot.model_state[k], v) for k, v in model.state_dict().items())
    assert not torch.equal(snapshot.model_state["0.weight"], start["0.weight"])
    assert snapshot.counters == {"epoch": 1, "best_elbo": 2.0} and snapshot.history_length == 1


def test_set_best_replaces_the_best_weights_until_a_new_best_capture():
    model, optimizer = _two_group_adam()
    snapshot = EpochSnapshot()
    assert snapshot.best_state is None and snapshot.model_state == {} and snapshot.epoch == -1
    loaded = {k: torch.zeros_like(v) for k, v in model.state_dict().items()}
    snapshot.set_best(loaded)
    snapshot.capture(3, model, optimizer, {"epoch": 3})
    assert snapshot.best_state is not None and all(v.abs().sum() == 0 for v in snapshot.best_state.values())
    snapshot.capture(4, model, optimizer, {"epoch": 4}, is_best=True)
    assert torch.equal(snapshot.best_state["0.weight"], model[0].weight)
