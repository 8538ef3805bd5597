"""The train_vae stage's latent-size choice."""

import pytest
import torch

from medaug.train.stage import choose_latent_size


def _low_rank(n, rank, generator):
    loadings = 3.0 * torch.randn(1, 6, 6, 6, rank, generator=generator)
    codes = torch.randn(n, rank, generator=generator)
    return (loadings * codes[:, None, None, None, :]).sum(-1)[:, None] + 0.1 * torch.randn(n, 1, 6, 6, 6, generator=generator)


def test_choose_latent_size_takes_the_best_held_out_candidate_below_the_rank():
    generator = torch.Generator().manual_seed(0)
    data = _low_rank(60, 3, generator)
    size, scores = choose_latent_size(data[:40], data[40:], {"candidates": [1, 3, 10, 100]}, 0.1)
    assert size == 3 and 100 not in scores and set(scores) == {1, 3, 10}


def test_choose_latent_size_needs_held_out_data_and_a_valid_candidate():
    data = torch.rand(10, 1, 4, 4, 4)
    with pytest.raises(ValueError, match="validation split"):
        choose_latent_size(data, None, {"candidates": [2]}, 0.1)
    with pytest.raises(ValueError, match="candidates"):
        choose_latent_size(data, data[:3], {"candidates": [50]}, 0.1)


def test_metric_temperature_follows_the_spacing_of_the_codes():
    from medaug.train.stage import choose_metric_temperature

    generator = torch.Generator().manual_seed(1)
    data = _low_rank(30, 4, generator)
    temperature, spacing = choose_metric_temperature(data, 4, 0.1, 0.5)
    assert spacing > 0 and temperature == pytest.approx(0.5 * spacing)
    # the codes are whitened (posterior means of the PPCA), so their spacing grows with d, not with the data's scale
    rich = _low_rank(60, 8, generator)
    assert choose_metric_temperature(rich, 8, 0.1, 1.0)[1] > 1.5 * choose_metric_temperature(rich, 2, 0.1, 1.0)[1]
    assert choose_metric_temperature(3.0 * rich, 8, 0.1, 1.0)[1] == pytest.approx(
        choose_metric_temperature(rich, 8, 0.1, 1.0)[1], rel=0.05)
