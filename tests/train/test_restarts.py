"""medaug.train.restarts: raise on a NaN or Inf, or rerun the epoch from the last good state at a lower rate."""

from __future__ import annotations

import math

import pytest
import torch

from medaug.train import TrainingConfig
from medaug.train.finite import NonFiniteError
from medaug.train.restarts import RestartPolicy
from medaug.train.snapshot import EpochSnapshot


def test_restart_policy_restores_the_last_good_epoch_at_a_lower_rate_then_gives_up():
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.AdamW([{"params": model.parameters(), "lr_scale": 0.5}], lr=0.1)
    snapshot = EpochSnapshot()
    snapshot.capture(0, model, optimizer, {"epoch": 0})
    good = model.weight.detach().clone()
    policy = RestartPolicy("restart", max_restarts=1, lr_factor=0.25, restarts=0, learning_rate=0.1)
    with torch.no_grad():
        model.weight.fill_(math.nan)
    error = NonFiniteError(3, 2, "loss")
    policy.restart(error, model, optimizer, snapshot)
    assert torch.equal(model.weight, good) and optimizer.param_groups[0]["lr"] == pytest.approx(0.0125)
    assert policy.counters() == {"restarts": 1, "learning_rate": pytest.approx(0.025)}
    with pytest.raises(NonFiniteError, match="loss at epoch 3, batch 2"):
        policy.restart(error, model, optimizer, snapshot)
    with pytest.raises(NonFiniteError):
        RestartPolicy("stop", 3, 0.5, 0, 0.1).restart(error, model, optimizer, snapshot)


def test_a_resumed_policy_continues_from_the_recorded_restarts_and_rate():
    config = TrainingConfig(nan_policy="restart", max_restarts=2, restart_lr_factor=0.5)
    policy = RestartPolicy.from_counters(config, {"restarts": 2, "learning_rate": 0.25, "epoch": 9})
    assert (policy.policy, policy.max_restarts, policy.lr_factor) == ("restart", 2, 0.5)
    assert policy.counters() == {"restarts": 2, "learning_rate": 0.25}
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD([{"params": model.parameters(), "lr_scale": 1.0}], lr=0.25)
    with pytest.raises(NonFiniteError):  # the budget was spent before the resume
        policy.restart(NonFiniteError(10, 0, "loss"), model, optimizer, EpochSnapshot())
    assert policy.counters() == {"restarts": 2, "learning_rate": 0.25}
