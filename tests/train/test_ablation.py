"""medaug.train.ablation: the kept model with its networks' output layers set to zero."""

from __future__ import annotations

import pytest
import torch

from medaug.models.vae import VAE, VAEConfig, network_output_layers
from medaug.train import evaluate_elbo, train_model
from medaug.train.ablation import networks_zeroed, networks_zeroed_elbo
from tests.train.test_selection_and_groups import NET, _config, _linear_vae
from tests.train.test_trainer import _data


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


def test_networks_zeroed_is_the_linear_model_and_leaves_the_original_alone():
    model = _linear_vae()
    model.prepare_for_training(_data())
    with torch.no_grad():  # networks that add something
        for layer in network_output_layers(model.encoder, model.decoder):
            layer.weight.normal_()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ablated = networks_zeroed(model)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    generator = torch.Generator().manual_seed(1)
    z = torch.randn(3, NET.latent_size, generator=generator)
    x = _data(3, seed=2)
    with torch.no_grad():
        decoded = ablated.decode(z)
        mean, log_var = ablated.encode(x)
        full_decoded = model.decode(z)
    linear = model.data_mean + (z @ model.linear_decoder_weight).reshape(decoded.shape)
    torch.testing.assert_close(decoded, linear)
    torch.testing.assert_close(mean, (x - model.data_mean).flatten(1) @ model.linear_encoder_weight.T)
    torch.testing.assert_close(log_var, model.linear_log_var_bias.expand(3, -1))
    assert not torch.allclose(full_decoded, linear)  # the original's networks still add something
