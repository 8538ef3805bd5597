"""medaug.train.stopping: the trainer's early stopping."""

from __future__ import annotations

import math

from medaug.train import TrainingConfig
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
