"""Networks: shapes in 2D and 3D, the metric network's L, configs, input checks."""

import pytest
import torch

from medaug.models.networks import (
    NetworkConfig,
    bounded_exp,
    build_decoder,
    build_encoder,
    build_metric_network,
    check_input,
    lower_triangular_from_heads,
)

SMALL_2D = dict(spatial_dims=2, spatial_shape=(16, 16), channels=(4, 8), strides=(2, 2), latent_size=3, metric_hidden_size=8)
SMALL_3D = dict(spatial_dims=3, spatial_shape=(12, 14, 11), channels=(4, 8), strides=(2, 2), latent_size=4, metric_hidden_size=8)
MLP_2D = dict(spatial_dims=2, spatial_shape=(16, 16), architecture="mlp", hidden_sizes=(20, 18, 12), metric_hidden_size=12, latent_size=3)


@pytest.mark.parametrize("values", [SMALL_2D, SMALL_3D, MLP_2D, {**SMALL_3D, "metric_channels": (2, 3)}, {**SMALL_3D, "architecture": "mlp", "hidden_sizes": (8, 8, 8)}])
def test_encoder_decoder_metric_shapes(values):
    config = NetworkConfig(**values)
    torch.manual_seed(0)
    x = torch.rand(3, *config.in_shape)
    mean, log_var = build_encoder(config)(x)
    assert mean.shape == log_var.shape == (3, config.latent_size)
    reconstruction = build_decoder(config)(mean).detach()
    assert reconstruction.shape == x.shape
    assert float(reconstruction.min()) >= 0.0 and float(reconstruction.max()) <= 1.0  # sigmoid
    factor = build_metric_network(config)(x)
    assert factor.shape == (3, config.latent_size, config.latent_size)


@pytest.mark.parametrize("shape", [(84, 104, 89), (13, 7, 9), (17, 16, 15)])
def test_conv_decoder_restores_odd_sizes(shape):
    config = NetworkConfig(spatial_shape=shape, channels=(2, 2, 2), strides=(2, 2, 2), latent_size=2, metric_hidden_size=4)
    assert build_decoder(config)(torch.zeros(1, 2)).shape == (1, 1, *shape)


def test_metric_network_output_is_lower_triangular_with_bounded_positive_diagonal():
    config = NetworkConfig(**{**SMALL_2D, "metric_max_log_diagonal": 2.0})
    network = build_metric_network(config)
    with torch.no_grad():
        network.diagonal.bias.fill_(1e4)  # would overflow exp without the bound
    factor = network(torch.rand(2, *config.in_shape)).detach()
    assert torch.equal(factor, torch.tril(factor))
    diagonal = torch.diagonal(factor, dim1=-2, dim2=-1)
    assert torch.isfinite(diagonal).all()
    assert float(diagonal.max()) <= torch.exp(torch.tensor(2.0)) + 1e-5 and float(diagonal.min()) > 0


def test_bounded_exp_matches_exp_near_zero_and_is_bounded():
    raw = torch.tensor([-1e6, -0.01, 0.0, 0.01, 1e6])
    out = bounded_exp(raw, 3.0)
    assert torch.allclose(out[1:4], torch.exp(raw[1:4]), rtol=1e-4)
    assert float(out[0]) == pytest.approx(float(torch.exp(torch.tensor(-3.0))), rel=1e-5)
    assert float(out[-1]) == pytest.approx(float(torch.exp(torch.tensor(3.0))), rel=1e-5)


def test_lower_triangular_from_heads_fills_row_major():
    factor = lower_triangular_from_heads(torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[4.0, 5.0, 6.0]]))
    assert torch.equal(factor[0], torch.tensor([[1.0, 0, 0], [4.0, 2.0, 0], [5.0, 6.0, 3.0]]))
    with pytest.raises(ValueError, match="lower must be"):
        lower_triangular_from_heads(torch.ones(1, 3), torch.ones(1, 2))


def test_config_round_trip_and_validation():
    config = NetworkConfig(**SMALL_3D)
    assert NetworkConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match=r"unknown key\(s\)"):
        NetworkConfig.from_dict({**config.to_dict(), "chanels": [1]})
    with pytest.raises(ValueError, match="spatial_dims"):
        NetworkConfig(spatial_dims=2, spatial_shape=(8, 8, 8))
    with pytest.raises(ValueError, match="equal length"):
        NetworkConfig(channels=(4, 8), strides=(2,))
    with pytest.raises(ValueError, match="metric_channels"):
        NetworkConfig(channels=(4, 8), strides=(2, 2), metric_channels=(4,))
    with pytest.raises(ValueError, match="architecture"):
        NetworkConfig(architecture="resnet")


def test_check_input_names_the_problem():
    shape = (1, 4, 4)
    check_input(torch.zeros(2, *shape), shape)
    bad = torch.zeros(2, *shape)
    bad[1, 0, 2, 2] = float("nan")
    with pytest.raises(ValueError, match=r"NaN or Inf.*batch items \[1\]"):
        check_input(bad, shape)
    with pytest.raises(ValueError, match=r"expected input of shape \(B, 1, 4, 4\)"):
        check_input(torch.zeros(2, 4, 4), shape)
    with pytest.raises(ValueError, match="floating-point"):
        check_input(torch.zeros(2, *shape, dtype=torch.int64), shape)
