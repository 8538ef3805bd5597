"""MLP networks with any number of hidden layers (thesis tables 1.10, 1.13, 2.5): layer widths,
shared encoder layers, the metric network's width, config validation, checkpoint round trips, and
the tensor names of the three-layer networks that existing checkpoints hold."""

import json

import pytest
import torch
from torch import nn

from medaug.models.checkpoint import load_model, save_model
from medaug.models.networks import MLPDecoder, MLPEncoder, NetworkConfig, build_metric_network
from medaug.models.rhvae import RHVAE, RHVAEConfig
from medaug.models.vae import VAE, VAEConfig


def _mlp_config(hidden_sizes, shared=1, latent=2, metric_hidden=7):
    return NetworkConfig(spatial_dims=2, spatial_shape=(8, 8), architecture="mlp", hidden_sizes=hidden_sizes,
                         mlp_shared_layers=shared, latent_size=latent, metric_hidden_size=metric_hidden)


def _linear_shapes(module: nn.Module) -> list[tuple[int, int]]:
    """(in, out) of every Linear layer, in registration order."""
    return [(m.in_features, m.out_features) for m in module.modules() if isinstance(m, nn.Linear)]


def test_one_hidden_layer_is_the_thesis_table_1_10_network():
    """D-400-d: mean and log-variance heads on one shared hidden layer; decoder d-400-D; metric D-400."""
    config = _mlp_config((400,), latent=2, metric_hidden=400)
    encoder, decoder = MLPEncoder(config), MLPDecoder(config)
    assert _linear_shapes(encoder.shared) == [(64, 400)]
    assert _linear_shapes(encoder.mean_branch) == [] and _linear_shapes(encoder.log_var_branch) == []
    assert _linear_shapes(encoder.mean) == [(400, 2)] and _linear_shapes(encoder.log_var) == [(400, 2)]
    assert _linear_shapes(decoder) == [(2, 400), (400, 64)]
    metric = build_metric_network(config)
    assert _linear_shapes(metric) == [(64, 400), (400, 2), (400, 1)]


@pytest.mark.parametrize("shared, branch", [(1, [(1000, 400)]), (2, [])])
def test_two_hidden_layers_share_what_mlp_shared_layers_says(shared, branch):
    """OASIS, thesis table 2.5: D-1000-400-d with both layers shared (shared=2); shared=1 gives each head its own 1000-400."""
    config = _mlp_config((1000, 400), shared=shared, metric_hidden=400)
    encoder, decoder = MLPEncoder(config), MLPDecoder(config)
    assert _linear_shapes(encoder.shared) == [(64, 1000), (1000, 400)][:shared]
    assert _linear_shapes(encoder.mean_branch) == branch and _linear_shapes(encoder.log_var_branch) == branch
    assert _linear_shapes(decoder) == [(2, 400), (400, 1000), (1000, 64)]


def test_fully_shared_encoder_gives_both_heads_the_same_features():
    config = _mlp_config((9, 5), shared=2)
    encoder = MLPEncoder(config)
    x = torch.rand(3, 1, 8, 8)
    features = encoder.shared(x.flatten(1))
    mean, log_var = encoder(x)
    assert torch.allclose(mean, encoder.mean(features)) and torch.allclose(log_var, encoder.log_var(features))


def test_three_layer_tensor_names_are_unchanged():
    """Checkpoints written with (h1, h2, h3) before any depth was accepted must still load."""
    model = VAE(VAEConfig(network=_mlp_config((6, 5, 4))))
    names = {name: tuple(t.shape) for name, t in model.state_dict().items() if name != "data_mean"}
    assert names == {
        "encoder.shared.0.weight": (6, 64), "encoder.shared.0.bias": (6,),
        "encoder.mean_branch.0.weight": (5, 6), "encoder.mean_branch.0.bias": (5,),
        "encoder.mean_branch.2.weight": (4, 5), "encoder.mean_branch.2.bias": (4,),
        "encoder.log_var_branch.0.weight": (5, 6), "encoder.log_var_branch.0.bias": (5,),
        "encoder.log_var_branch.2.weight": (4, 5), "encoder.log_var_branch.2.bias": (4,),
        "encoder.mean.weight": (2, 4), "encoder.mean.bias": (2,),
        "encoder.log_var.weight": (2, 4), "encoder.log_var.bias": (2,),
        "decoder.hidden.0.weight": (4, 2), "decoder.hidden.0.bias": (4,),
        "decoder.hidden.2.weight": (5, 4), "decoder.hidden.2.bias": (5,),
        "decoder.hidden.4.weight": (6, 5), "decoder.hidden.4.bias": (6,),
        "decoder.output.weight": (64, 6), "decoder.output.bias": (64,),
    }


@pytest.mark.parametrize("hidden_sizes, shared", [((12,), 1), ((12, 9), 1), ((12, 9), 2), ((12, 10, 9, 8), 3)])
def test_any_depth_runs_forward_and_backward(hidden_sizes, shared):
    torch.manual_seed(0)
    model = RHVAE(RHVAEConfig(network=_mlp_config(hidden_sizes, shared=shared)))
    x = torch.rand(4, 1, 8, 8)
    out = model(x)
    assert out.reconstruction.shape == x.shape and torch.isfinite(out.elbo).all()
    out.loss.backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("hidden_sizes, shared", [((12,), 1), ((12, 9), 2)])
@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
def test_checkpoint_round_trip(hidden_sizes, shared, likelihood, tmp_path):
    torch.manual_seed(0)
    model = RHVAE(RHVAEConfig(network=_mlp_config(hidden_sizes, shared=shared), likelihood=likelihood))
    data = torch.rand(5, 1, 8, 8)
    model.fit_metric(data, batch_size=2)
    save_model(model, tmp_path / "m")
    document = json.loads((tmp_path / "m" / "model.json").read_text())
    assert document["config"]["network"]["hidden_sizes"] == list(hidden_sizes)
    assert document["config"]["likelihood"] == likelihood
    loaded = load_model(tmp_path / "m")
    assert loaded.config == model.config
    z = torch.randn(3, 2)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model.decode(z), loaded.decode(z))
        assert torch.equal(model.encode(data)[0], loaded.encode(data)[0])
        assert torch.equal(model.metric.metric(z), loaded.metric.metric(z))


def test_config_validation_of_the_depth():
    with pytest.raises(ValueError, match="at least one hidden layer"):
        _mlp_config(())
    with pytest.raises(ValueError, match="mlp_shared_layers"):
        _mlp_config((8, 8), shared=3)
    with pytest.raises(ValueError, match="mlp_shared_layers"):
        _mlp_config((8,), shared=0)
    with pytest.raises(ValueError, match="positive"):
        _mlp_config((8, 0))
    config = _mlp_config((400,))
    assert NetworkConfig.from_dict(config.to_dict()) == config
    assert config.to_dict()["hidden_sizes"] == [400]
    # a config written before mlp_shared_layers existed loads with the table 1.13 sharing
    old = {k: v for k, v in _mlp_config((6, 5, 4)).to_dict().items() if k != "mlp_shared_layers"}
    assert NetworkConfig.from_dict(old).mlp_shared_layers == 1
