"""medaug.train.config: the training settings' checks and Adam's parameter groups."""

from __future__ import annotations

import pytest
import torch

from medaug.models.vae import network_output_layers
from medaug.train.config import TrainingConfig, TrainingResult, freeze_linear_path, parameter_groups
from tests.train.test_selection_and_groups import _config, _linear_vae
from tests.train.test_trainer import _data


def test_config_rejects_a_negative_checkpoint_interval():
    with pytest.raises(ValueError, match="checkpoint_every_s"):
        _config(checkpoint_every_s=-1.0)


def test_linear_path_rate_zero_freezes_the_ppca_and_the_networks_still_train(tmp_path):
    model = _linear_vae()
    model.prepare_for_training(_data())
    start_weight = model.linear_decoder_weight.detach().clone()
    last_layer = network_output_layers(model.encoder, model.decoder)[-1]
    start_output = last_layer.weight.detach().clone()
    config = _config(max_epochs=2, linear_path_learning_rate=0.0)
    freeze_linear_path(model, config)
    groups = parameter_groups(model, config)
    assert [g["lr"] for g in groups] == [3e-3]            # no Adam moments for the frozen path
    linear = [p for name, p in model.named_parameters() if name.startswith("linear_")]
    assert linear and not any(p.requires_grad for p in linear)
    assert not {id(p) for p in linear} & {id(p) for p in groups[0]["params"]}
    optimizer = torch.optim.AdamW(groups, lr=config.learning_rate)
    loss = model.vae_elbo(_data()).loss
    loss.backward()
    optimizer.step()
    assert torch.equal(model.linear_decoder_weight, start_weight) and model.linear_decoder_weight.grad is None
    assert not torch.equal(last_layer.weight, start_output)


def test_a_linear_path_with_a_rate_keeps_its_gradients():
    model = _linear_vae()
    config = _config(linear_path_learning_rate=1e-4)
    freeze_linear_path(model, config)
    assert all(p.requires_grad for p in model.parameters())
    assert [g["lr"] for g in parameter_groups(model, config)] == [3e-3, 1e-4]


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


def test_a_model_without_a_linear_path_has_one_group_at_the_base_rate():
    model = torch.nn.Linear(3, 1)
    groups = parameter_groups(model, TrainingConfig(learning_rate=0.02, linear_path_learning_rate=0.0))
    assert len(groups) == 1 and groups[0]["lr"] == 0.02 and groups[0]["lr_scale"] == 1.0
    assert {id(p) for p in groups[0]["params"]} == {id(model.weight), id(model.bias)}


def test_the_linear_group_scale_is_its_rate_over_the_base_rate():
    groups = parameter_groups(_linear_vae(), _config(learning_rate=4e-3, linear_path_learning_rate=1e-3))
    assert groups[1]["lr"] == 1e-3 and groups[1]["lr_scale"] == pytest.approx(0.25)
    same = parameter_groups(_linear_vae(), _config(learning_rate=4e-3))
    assert same[1]["lr"] == 4e-3 and same[1]["lr_scale"] == 1.0


@pytest.mark.parametrize(("values", "named"), [
    ({"nan_policy": "ignore"}, "nan_policy"),
    ({"batch_size": 0}, "batch_size"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"max_epochs": 3, "warmup_epochs": 3}, "warmup_epochs"),
    ({"warmup_epochs": -1}, "warmup_epochs"),
    ({"restart_lr_factor": 1.0}, "restart_lr_factor"),
    ({"restart_lr_factor": 0.0}, "restart_lr_factor"),
])
def test_config_names_the_setting_it_rejects(values, named):
    with pytest.raises(ValueError, match=named):
        TrainingConfig(**values)


def test_config_round_trips_through_a_dict_and_rejects_unknown_keys():
    config = TrainingConfig(learning_rate=0.5, batch_size=3, warmup_epochs=2, linear_path_learning_rate=0.0)
    assert TrainingConfig.from_dict(config.to_dict()) == config
    with pytest.raises((KeyError, ValueError, TypeError), match="learning_rat"):
        TrainingConfig.from_dict({**config.to_dict(), "learning_rat": 1.0})


def test_a_result_starts_without_history_and_with_an_unknown_start():
    first, second = TrainingResult(1, 0.5, "val", 1, "max_epochs", 0), TrainingResult(1, 0.5, "val", 1, "max_epochs", 0)
    first.history.append({"epoch": 1.0})
    assert second.history == [] and second.start_elbo != second.start_elbo  # NaN
