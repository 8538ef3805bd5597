"""Selection over every epoch, the untrained start included (``select_from_start``)."""

import math

import torch

from medaug.models.networks import NetworkConfig
from medaug.models.vae import VAE, VAEConfig
from medaug.train import TrainingConfig, train_model
from tests.train.test_trainer import _data

NET = NetworkConfig(spatial_dims=2, spatial_shape=(16, 16), channels=(4, 8), strides=(2, 2), latent_size=2,
                    output_activation="identity")


def _linear_vae():
    torch.manual_seed(0)
    return VAE(VAEConfig(network=NET, observation_std=0.1, residual_from_mean=True, linear_path=True))


def _config(**kwargs):
    values = dict(learning_rate=3e-3, batch_size=4, max_epochs=4, patience=50, progress=False, eval_batch_size=8)
    return TrainingConfig(**{**values, **kwargs})


def test_a_run_that_only_gets_worse_keeps_the_untrained_start(tmp_path):
    # a huge rate wrecks the PPCA start at the first step; the start must be kept
    result = train_model(_linear_vae(), _data(), _data(6, seed=1), _config(learning_rate=1.0, select_from_start=True),
                         tmp_path)
    assert result.best_epoch == 0 and math.isfinite(result.start_elbo)
    assert result.best_elbo == result.start_elbo
    assert all(row["val_elbo"] < result.start_elbo for row in result.history)


def test_without_select_from_start_the_start_is_never_kept(tmp_path):
    result = train_model(_linear_vae(), _data(), _data(6, seed=1), _config(learning_rate=1.0), tmp_path)
    assert result.best_epoch >= 1 and result.best_elbo < result.start_elbo


def test_warmup_epochs_are_candidates_with_select_from_start(tmp_path):
    config = _config(max_epochs=5, warmup_epochs=4, select_from_start=True, learning_rate=1e-3)
    result = train_model(_linear_vae(), _data(), _data(6, seed=1), config, tmp_path)
    best_row = max(result.history, key=lambda row: row["val_elbo"])
    expected = best_row["epoch"] if best_row["val_elbo"] > result.start_elbo else 0
    assert result.best_epoch == expected
