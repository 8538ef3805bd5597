"""medaug.train.stopping and medaug.train.restarts: the trainer's early stopping and restart policy."""

from __future__ import annotations

import math

import pytest
import torch

from medaug.train import TrainingConfig
from medaug.train.finite import NonFiniteError, all_finite
from medaug.train.restarts import RestartPolicy
from medaug.train.snapshot import EpochSnapshot
from medaug.train.stopping import EarlyStopping


def test_early_stopping_counts_stale_epochs_after_the_warm_up_and_keeps_the_best():
    rule = EarlyStopping(patience=2, min_improvement=0.5, warmup_epochs=1)
    assert not rule.update(1, 10.0)              # warm-up: neither best nor stale
    assert (rule.best_value, rule.stale_epochs) == (-math.inf, 0)
    assert rule.update(2, 3.0) and rule.best_epoch == 2
    assert not rule.update(3, 3.4)                # within min_improvement: stale
    assert rule.update(4, 3.6) and rule.stale_epochs == 0
    assert not rule.update(5, 1.0) and not rule.stopped
    assert not rule.update(6, 1.0) and rule.stopped
    assert rule.counters() == {"best_elbo": 3.6, "best_epoch": 4, "stale_epochs": 2}


def test_early_stopping_with_select_from_start_lets_warm_up_epochs_win():
    rule = EarlyStopping(patience=5, warmup_epochs=2, select_from_start=True, best_value=1.0)
    assert rule.update(1, 2.0) and rule.best_epoch == 1
    assert not rule.update(2, 0.0) and rule.stale_epochs == 0   # warm-up: never stale
    config = TrainingConfig(patience=9, warmup_epochs=2, select_from_start=True)
    resumed = EarlyStopping.from_counters(config, rule.counters())
    assert (resumed.patience, resumed.best_value, resumed.best_epoch) == (9, 2.0, 1)


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


def test_all_finite_sees_one_nan_among_many_tensors():
    tensors = [torch.zeros(3), torch.ones(2, 2), torch.empty(0)]
    assert all_finite(tensors) and all_finite([])
    tensors[1][1, 0] = math.inf
    assert not all_finite(tensors)
