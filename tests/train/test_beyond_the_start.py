"""Positive and negative controls of the generator criterion "the kept model beats its PPCA start
on held-out volumes": planted data where the networks have something to learn, and data where the
linear start is already the true model."""

import torch

from medaug.train import evaluate_elbo, train_model
from medaug.train.ablation import networks_zeroed_elbo
from tests.train.test_selection_and_groups import _config, _linear_vae
from tests.train.test_trainer import _data

NOISE_STD = 0.02


def _noisy_blobs(n: int, seed: int) -> torch.Tensor:
    """A two-dimensional curved family (a blob at a random position) plus white noise: (n, 1, 16, 16)."""
    noise = torch.randn(n, 1, 16, 16, generator=torch.Generator().manual_seed(seed + 100))
    return _data(n, seed) + NOISE_STD * noise


def _linear_family(n: int, seed: int) -> torch.Tensor:
    """A fixed image plus two fixed modes with Gaussian coefficients plus white noise: a PPCA of
    rank 2 is the true model. (n, 1, 16, 16)."""
    generator = torch.Generator().manual_seed(seed)
    modes = 0.1 * torch.randn(2, 1, 16, 16, generator=torch.Generator().manual_seed(5))
    codes = torch.randn(n, 2, generator=generator)
    noise = torch.randn(n, 1, 16, 16, generator=generator)
    return _data(1, seed=99) + torch.einsum("nk,kchw->nchw", codes, modes) + NOISE_STD * noise


def _kept_minus_start(family, tmp_path) -> tuple[float, float]:
    """Train on 64 volumes (16 for validation); kept - start on the validation split and on 32
    untouched volumes (nats per volume). The linear path stays at its PPCA start."""
    model = _linear_vae()
    config = _config(max_epochs=20, patience=20, select_from_start=True, linear_path_learning_rate=0.0)
    result = train_model(model, family(64, 0), family(16, 1), config, tmp_path)
    model.eval()
    test = family(32, 2)
    return result.best_elbo - result.start_elbo, evaluate_elbo(model, test, 8, seed=3) - networks_zeroed_elbo(model, test, 8, 3)


def test_networks_beat_the_start_on_untouched_volumes_when_the_data_are_curved(tmp_path):
    validation_gain, test_gain = _kept_minus_start(_noisy_blobs, tmp_path)
    assert validation_gain > 20.0 and test_gain > 20.0


def test_networks_gain_nothing_when_the_start_is_the_true_model(tmp_path):
    validation_gain, test_gain = _kept_minus_start(_linear_family, tmp_path)
    assert 0.0 <= validation_gain < 5.0 and abs(test_gain) < 5.0
