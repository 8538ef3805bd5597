"""Selection over every epoch (the start included), the linear path's own rate, and the ablation."""

import math

import pytest
import torch

from medaug.models.networks import NetworkConfig
from medaug.models.vae import VAE, VAEConfig, network_output_layers
from medaug.train import TrainingConfig, evaluate_elbo, train_model
from medaug.train.ablation import networks_zeroed, networks_zeroed_elbo
from medaug.train.config import parameter_groups
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


def test_linear_path_rate_zero_freezes_the_ppca_and_the_networks_still_train(tmp_path):
    model = _linear_vae()
    model.prepare_for_training(_data())
    start_weight = model.linear_decoder_weight.detach().clone()
    last_layer = network_output_layers(model.encoder, model.decoder)[-1]
    start_output = last_layer.weight.detach().clone()
    config = _config(max_epochs=2, linear_path_learning_rate=0.0)
    groups = parameter_groups(model, config)
    assert [g["lr"] for g in groups] == [3e-3, 0.0]
    optimizer = torch.optim.AdamW(groups, lr=config.learning_rate)
    loss = model.vae_elbo(_data()).loss
    loss.backward()
    optimizer.step()
    assert torch.equal(model.linear_decoder_weight, start_weight)
    assert not torch.equal(last_layer.weight, start_output)


def test_weight_decay_applies_to_the_networks_only():
    model = _linear_vae()
    groups = parameter_groups(model, _config(network_weight_decay=0.1))
    linear_ids = {id(model.linear_decoder_weight), id(model.linear_encoder_weight), id(model.linear_log_var_bias)}
    assert groups[0]["weight_decay"] == 0.1 and not linear_ids & {id(p) for p in groups[0]["params"]}
    assert groups[1]["weight_decay"] == 0.0 and {id(p) for p in groups[1]["params"]} == linear_ids


def test_config_rejects_negative_rates_and_decay():
    with pytest.raises(ValueError, match="linear_path_learning_rate"):
        _config(linear_path_learning_rate=-1.0)
    with pytest.raises(ValueError, match="network_weight_decay"):
        _config(network_weight_decay=-0.1)


def test_networks_zeroed_of_an_untrained_model_is_the_model_itself_and_differs_after_training(tmp_path):
    model = _linear_vae()
    model.prepare_for_training(_data())
    held_out = _data(6, seed=1)
    assert networks_zeroed_elbo(model, held_out, 8, seed=3) == evaluate_elbo(model, held_out, 8, seed=3)
    train_model(model, _data(), None, _config(max_epochs=3), tmp_path)
    ablated = networks_zeroed(model)
    assert torch.equal(ablated.linear_decoder_weight, model.linear_decoder_weight)
    assert all(layer.weight.abs().sum() == 0 for layer in network_output_layers(ablated.encoder, ablated.decoder))
    assert any(layer.weight.abs().sum() > 0 for layer in network_output_layers(model.encoder, model.decoder))
    assert networks_zeroed_elbo(model, held_out, 8, seed=3) != evaluate_elbo(model, held_out, 8, seed=3)


def test_networks_zeroed_needs_a_linear_path():
    with pytest.raises(ValueError, match="linear path"):
        networks_zeroed(VAE(VAEConfig(network=NET, observation_std=0.1, residual_from_mean=True)))
