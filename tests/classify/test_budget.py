"""medaug.classify.budget: a classifier's training length in epochs or steps, and its index batches."""

from __future__ import annotations

import pytest
import torch

from medaug.classify.budget import TrainingBudget, batch_stream, batches_per_epoch, epoch_batches


def test_batches_per_epoch_matches_the_batches_drawn() -> None:
    generator = torch.Generator().manual_seed(0)
    for n in (1, 2, 7, 8, 9, 16, 17, 144, 544):
        batches = epoch_batches(n, 8, generator)
        assert len(batches) == batches_per_epoch(n, 8), n
        assert sorted(torch.cat(batches).tolist()) == list(range(n))   # every image once per pass
        assert all(len(b) > 1 for b in batches) or n == 1


def test_budget_parameters_are_checked() -> None:
    assert TrainingBudget.from_dict({"unit": "steps", "steps": 432, "eval_every": 18, "epochs": 12}).total_steps(144, 8) == 432
    assert TrainingBudget.from_dict({"unit": "epochs", "epochs": 12, "steps": None}).total_steps(144, 8) == 12 * 18
    assert TrainingBudget.of_epochs(2).total_steps(17, 8) == 2 * 2   # 8 + 9: the single image joins
    with pytest.raises(ValueError, match="eval_every"):
        TrainingBudget.of_steps(10, 11)
    with pytest.raises(ValueError, match="unit"):
        TrainingBudget(unit="minutes")
    with pytest.raises(ValueError, match="steps >= 1"):
        TrainingBudget.from_dict({"unit": "steps", "steps": None, "eval_every": 5})
    with pytest.raises(ValueError, match="classify.training.budget: unknown key"):
        TrainingBudget.from_dict({"unit": "steps", "steps": 10, "eval_every": 5, "patience": 3})


def test_without_a_generator_a_pass_is_in_order_and_a_lone_last_image_joins_the_batch_before():
    assert [b.tolist() for b in epoch_batches(9, 4, None)] == [[0, 1, 2, 3], [4, 5, 6, 7, 8]]
    assert [b.tolist() for b in epoch_batches(10, 4, None)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [b.tolist() for b in epoch_batches(1, 4, None)] == [[0]]
    assert all(b.dtype == torch.int64 for b in epoch_batches(5, 2, torch.Generator().manual_seed(0)))


@pytest.mark.parametrize(("n", "batch_size", "expected"), [(1, 8, 1), (8, 8, 1), (9, 8, 1), (10, 8, 2), (17, 8, 2),
                                                           (144, 8, 18), (3, 1, 3)])
def test_batches_per_epoch_by_hand(n, batch_size, expected):
    assert batches_per_epoch(n, batch_size) == expected


def test_batches_per_epoch_refuses_an_empty_set_or_batch():
    with pytest.raises(ValueError, match="n=0"):
        batches_per_epoch(0, 8)
    with pytest.raises(ValueError, match="batch_size=0"):
        batches_per_epoch(4, 0)


def test_batch_stream_counts_passes_and_reshuffles_each_one():
    stream = batch_stream(6, 3, torch.Generator().manual_seed(0))
    drawn = [next(stream) for _ in range(6)]
    assert [epoch for epoch, _ in drawn] == [1, 1, 2, 2, 3, 3]
    passes = [torch.cat([b for e, b in drawn if e == k]).tolist() for k in (1, 2, 3)]
    assert all(sorted(p) == list(range(6)) for p in passes)
    assert len({tuple(p) for p in passes}) > 1  # not the same order every pass
    reference = torch.Generator().manual_seed(0)
    assert passes[0] == torch.cat(epoch_batches(6, 3, reference)).tolist()


def test_validation_after_each_pass_or_every_eval_every_steps_and_the_last():
    epochs = TrainingBudget.of_epochs(3)  # 17 images in batches of 8: 2 steps per pass
    assert [s for s in range(1, 7) if epochs.validates_after(s, 17, 8)] == [2, 4, 6]
    steps = TrainingBudget.of_steps(10, 4)
    assert [s for s in range(1, 11) if steps.validates_after(s, 17, 8)] == [4, 8, 10]
    assert TrainingBudget.of_steps(10, 4).total_steps(1000, 8) == 10


def test_describe_and_to_dict_keep_the_keys_of_the_unit():
    steps = TrainingBudget.of_steps(540, 18)
    assert steps.describe() == "540 optimisation steps, validation every 18 steps"
    assert steps.to_dict() == {"unit": "steps", "steps": 540, "eval_every": 18}
    assert TrainingBudget.of_epochs(100).describe() == "100 epochs, validation after each epoch"
    assert TrainingBudget.of_epochs(100).to_dict() == {"unit": "epochs", "epochs": 100}
    assert TrainingBudget.from_dict(steps.to_dict()).to_dict() == steps.to_dict()


def test_from_dict_reads_integers_and_the_epoch_unit_needs_epochs():
    assert TrainingBudget.from_dict({"unit": "steps", "steps": "12", "eval_every": 3.0}).steps == 12
    with pytest.raises(ValueError, match="needs epochs >= 1, got 0"):
        TrainingBudget.of_epochs(0)
    with pytest.raises(ValueError, match=r"1 <= eval_every <= steps \(10\), got 0"):
        TrainingBudget.of_steps(10, 0)
