"""VAE, geometry-aware VAE and checkpoints: ELBO terms, NaN input, seeds, save/load, deepcopy/.to()."""

import copy
import json

import pytest
import torch

from medaug.models.checkpoint import CheckpointError, load_model, save_model
from medaug.models.geometric_vae import GeometricVAE, GeometricVAEConfig, k_medoids
from medaug.models.metric import max_min_distance
from medaug.models.networks import NetworkConfig
from medaug.models.rhvae import RHVAE, RHVAEConfig
from medaug.models.vae import VAE, VAEConfig, encode_dataset, gaussian_log_likelihood

torch.set_num_threads(1)

NET_2D = NetworkConfig(spatial_dims=2, spatial_shape=(16, 16), channels=(4, 8), strides=(2, 2), latent_size=3, metric_hidden_size=8)
NET_3D = NetworkConfig(spatial_dims=3, spatial_shape=(12, 14, 12), channels=(4, 8), strides=(2, 2), latent_size=4, metric_hidden_size=8)


def _model(kind, network=NET_2D, **kwargs):
    torch.manual_seed(0)
    if kind == "vae":
        return VAE(VAEConfig(network=network, **kwargs))
    if kind == "rhvae":
        return RHVAE(RHVAEConfig(network=network, **kwargs))
    return GeometricVAE(GeometricVAEConfig(network=network, **kwargs))


@pytest.mark.parametrize("network", [NET_2D, NET_3D], ids=["2d", "3d"])
def test_vae_forward_shapes_and_elbo(network):
    model = _model("vae", network)
    x = torch.rand(3, *network.in_shape)
    out = model(x)
    assert out.reconstruction.shape == x.shape and out.z.shape == (3, network.latent_size)
    assert torch.allclose(out.elbo, out.terms["reconstruction"] - out.terms["kl"])
    assert out.loss.shape == () and torch.isfinite(out.loss)


def test_gaussian_log_likelihood_matches_torch_distributions():
    x, mean = torch.rand(2, 1, 3, 3, dtype=torch.float64), torch.rand(2, 1, 3, 3, dtype=torch.float64)
    expected = torch.distributions.Normal(mean, 0.3).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(gaussian_log_likelihood(x, mean, 0.3), expected)


def test_vae_kl_term_is_the_analytic_kl():
    model = _model("vae").double()
    x = torch.rand(2, *NET_2D.in_shape, dtype=torch.float64)
    out = model(x)
    mean, log_var = model.encode(x)
    q = torch.distributions.Normal(mean, torch.exp(0.5 * log_var))
    p = torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(mean))
    assert torch.allclose(out.terms["kl"], torch.distributions.kl_divergence(q, p).sum(-1))


@pytest.mark.parametrize("kind", ["vae", "rhvae", "geometric_vae"])
def test_nan_input_gives_a_clear_error(kind):
    model = _model(kind)
    x = torch.rand(2, *NET_2D.in_shape)
    x[0, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN or Inf"):
        model(x)
    with pytest.raises(ValueError, match="expected input of shape"):
        model(torch.rand(2, 16, 16))


@pytest.mark.parametrize("kind", ["vae", "rhvae", "geometric_vae"])
def test_same_seed_same_weights(kind):
    first, second = _model(kind), _model(kind)
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), name


def test_k_medoids_is_deterministic_and_finds_clusters():
    generator = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    points = torch.cat([c + 0.1 * torch.randn(20, 2, generator=generator) for c in centres])
    first, second = k_medoids(points, 3, seed=1), k_medoids(points, 3, seed=1)
    assert torch.equal(first, second)
    assert sorted(int(i) // 20 for i in first) == [0, 1, 2]  # one medoid per cluster
    with pytest.raises(ValueError):
        k_medoids(points, 0)


def test_geometric_vae_builds_its_metric_from_the_posteriors():
    model = _model("geometric_vae", n_medoids=4)
    data = torch.rand(10, *NET_2D.in_shape)
    model.fit_metric(data, batch_size=3)
    means, log_vars = encode_dataset(model, data, 10)
    assert model.metric.num_centroids == 4
    # each centroid is one of the training posteriors, with its own variance
    matches = torch.cdist(model.metric.means, means).argmin(1)
    assert torch.allclose(model.metric.means, means[matches], atol=1e-6)
    assert torch.allclose(model.metric.variances, log_vars[matches].exp(), rtol=1e-5)
    assert model.metric.rho == pytest.approx(float(max_min_distance(model.metric.means)), rel=1e-5)
    assert float(model.metric_rho) == pytest.approx(model.metric.rho)


def _fitted(kind):
    model = _model(kind)
    model.fit_metric(torch.rand(6, *NET_2D.in_shape), batch_size=4)
    return model.eval()


@pytest.mark.parametrize("kind", ["vae", "rhvae", "geometric_vae"])
def test_save_load_round_trip_gives_identical_outputs(kind, tmp_path):
    model = _fitted(kind)
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert type(loaded) is type(model) and loaded.config == model.config
    x = torch.rand(3, *NET_2D.in_shape)
    with torch.no_grad():
        torch.manual_seed(5)
        expected = model(x)
        torch.manual_seed(5)
        got = loaded(x)
    assert torch.equal(expected.elbo, got.elbo) and torch.equal(expected.reconstruction, got.reconstruction)
    if kind != "vae":
        z = torch.randn(4, NET_2D.latent_size)
        assert torch.equal(model.metric.metric(z), loaded.metric.metric(z))


def test_loading_checks_the_config(tmp_path):
    save_model(_fitted("rhvae"), tmp_path / "m")
    document = json.loads((tmp_path / "m" / "model.json").read_text())

    def write(doc):
        (tmp_path / "m" / "model.json").write_text(json.dumps(doc))

    write({**document, "model_type": "gan"})
    with pytest.raises(CheckpointError, match="unknown model_type"):
        load_model(tmp_path / "m")
    write({**document, "config": {**document["config"], "n_leapfrogs": 3}})
    with pytest.raises(CheckpointError, match="unknown keys"):
        load_model(tmp_path / "m")
    network = {**document["config"]["network"], "latent_size": 5}
    write({**document, "config": {**document["config"], "network": network}})
    with pytest.raises(CheckpointError, match="has shape"):
        load_model(tmp_path / "m")
    write({**document, "format_version": 99})
    with pytest.raises(CheckpointError, match="format_version"):
        load_model(tmp_path / "m")


@pytest.mark.parametrize("kind", ["rhvae", "geometric_vae"])
def test_deepcopy_and_to_keep_the_metric_consistent(kind):
    model = _fitted(kind)
    z = torch.randn(5, NET_2D.latent_size, dtype=torch.float64)
    expected = model.metric.metric(z.float()).double()
    clone = copy.deepcopy(model)
    assert torch.equal(clone.metric.metric(z.float()), model.metric.metric(z.float()))
    # the copy owns its buffers: changing it leaves the original alone
    for buffer in clone.metric.buffers():
        buffer.mul_(2.0)
    assert torch.equal(model.metric.metric(z.float()).double(), expected)
    converted = copy.deepcopy(model).to(torch.float64)
    assert all(b.dtype == torch.float64 for b in converted.metric.buffers())
    assert torch.allclose(converted.metric.metric(z), expected, rtol=1e-4, atol=1e-6)
    if kind == "geometric_vae":
        assert converted.metric.rho == model.metric.rho


NET_2D_IDENTITY = NetworkConfig(spatial_dims=2, spatial_shape=(16, 16), channels=(4, 8), strides=(2, 2), latent_size=3,
                                metric_hidden_size=8, output_activation="identity")


@pytest.mark.parametrize("kind", ["vae", "rhvae", "geometric_vae"])
def test_residual_from_mean_decodes_mean_plus_residual(kind):
    model = _model(kind, NET_2D_IDENTITY, residual_from_mean=True)
    data = torch.rand(6, *NET_2D_IDENTITY.in_shape)
    model.prepare_for_training(data)
    assert torch.allclose(model.data_mean, data.mean(0), atol=1e-6)
    z = torch.randn(2, NET_2D_IDENTITY.latent_size)
    assert torch.allclose(model.decode(z), model.decoder(z) + data.mean(0), atol=1e-6)
    # the encoder reads x - mean: shifting the mean and the input together changes nothing
    shift = 0.3
    before = model.encode(data)[0]
    model.data_mean.add_(shift)
    assert torch.allclose(model.encode(data + shift)[0], before, atol=1e-6)


def test_residual_from_mean_is_saved_with_the_model(tmp_path):
    model = _model("vae", NET_2D_IDENTITY, residual_from_mean=True)
    model.prepare_for_training(torch.rand(5, *NET_2D_IDENTITY.in_shape))
    save_model(model, tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    assert loaded.config.residual_from_mean and torch.equal(loaded.data_mean, model.data_mean)
    z = torch.randn(3, NET_2D_IDENTITY.latent_size)
    assert torch.allclose(loaded.decode(z), model.decode(z), atol=1e-6)


def test_residual_from_mean_needs_identity_output_and_data():
    with pytest.raises(ValueError, match="identity"):
        VAEConfig(network=NET_2D, residual_from_mean=True)
    model = _model("vae", NET_2D_IDENTITY, residual_from_mean=True)
    with pytest.raises(ValueError, match="empty"):
        model.prepare_for_training(torch.rand(0, *NET_2D_IDENTITY.in_shape))


def test_without_residual_prepare_leaves_the_model_unchanged():
    model = _model("vae", NET_2D)
    model.prepare_for_training(torch.rand(4, *NET_2D.in_shape))
    assert torch.count_nonzero(model.data_mean) == 0


@pytest.mark.parametrize("kind", ["vae", "rhvae"])
def test_vae_elbo_is_the_plain_bound_whatever_the_model(kind):
    model = _model(kind, NET_2D_IDENTITY).eval()
    x = torch.rand(4, *NET_2D_IDENTITY.in_shape)
    torch.manual_seed(3)
    out = model.vae_elbo(x)
    mean, log_var = model.encode(x)
    assert out.elbo.shape == (4,)
    prior = torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(mean))
    posterior = torch.distributions.Normal(mean, torch.exp(0.5 * log_var))
    kl = torch.distributions.kl_divergence(posterior, prior).sum(-1)
    assert torch.allclose(out.terms["kl"], kl, atol=1e-5)
    expected = gaussian_log_likelihood(x, model.decode(out.z), model.config.observation_std) - kl
    assert torch.allclose(out.elbo, expected, atol=1e-4)
