"""Bernoulli likelihood (medaug.models.likelihood and ``VAEConfig.likelihood``): analytic values,
stability at extreme logits, gradients against closed forms and autograd, the VAE / RHVAE /
geometry-aware VAE paths, config validation, and checkpoints written before the option existed."""

import json
import math

import pytest
import torch

from medaug.models.checkpoint import load_model, save_model
from medaug.models.decode import decoded_batches
from medaug.models.diagnostics import reconstruction_diagnostics
from medaug.models.geometric_vae import GeometricVAE, GeometricVAEConfig
from medaug.models.likelihood import bernoulli_log_likelihood, bernoulli_logits, bernoulli_mean
from medaug.models.networks import NetworkConfig
from medaug.models.rhvae import RHVAE, RHVAEConfig
from medaug.models.vae import VAE, VAEConfig, gaussian_log_likelihood

DTYPE = torch.float64
MLP = NetworkConfig(spatial_dims=2, spatial_shape=(3, 3), architecture="mlp", hidden_sizes=(7,), metric_hidden_size=5,
                    latent_size=2, output_activation="sigmoid")
CONV = NetworkConfig(spatial_dims=2, spatial_shape=(8, 8), channels=(4, 8), strides=(2, 2), latent_size=3,
                     metric_hidden_size=6, output_activation="sigmoid")
CLASSES = {"vae": (VAE, VAEConfig), "rhvae": (RHVAE, RHVAEConfig), "geometric_vae": (GeometricVAE, GeometricVAEConfig)}


def _model(kind, network=MLP, **kwargs):
    torch.manual_seed(0)
    cls, config_cls = CLASSES[kind]
    return cls(config_cls(network=network, likelihood="bernoulli", **kwargs))


# --- the pure functions --------------------------------------------------------------------------


def test_bernoulli_log_likelihood_of_a_known_image():
    """x = (1, 0, 1/2, 1), l = (0, log 3, log 3, -log 3): p = (1/2, 3/4, 3/4, 1/4).

    log p(x|z) = log 1/2 + log 1/4 + (1/2)(log 3/4 + log 1/4) + log 1/4 = -7 log 2 + (1/2) log 3.
    """
    x = torch.tensor([[1.0, 0.0, 0.5, 1.0]], dtype=DTYPE).reshape(1, 1, 2, 2)
    logits = torch.tensor([0.0, math.log(3), math.log(3), -math.log(3)], dtype=DTYPE).reshape(1, 1, 2, 2)
    expected = -7 * math.log(2) + 0.5 * math.log(3)
    assert bernoulli_log_likelihood(x, logits).item() == pytest.approx(expected, rel=1e-12)
    assert bernoulli_log_likelihood(x, logits).shape == (1,)


def test_bernoulli_log_likelihood_matches_torch_distributions_on_binary_images():
    generator = torch.Generator().manual_seed(0)
    x = (torch.rand(4, 1, 5, 5, generator=generator) > 0.5).to(DTYPE)
    logits = 3 * torch.randn(4, 1, 5, 5, generator=generator, dtype=DTYPE)
    expected = torch.distributions.Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(bernoulli_log_likelihood(x, logits), expected, atol=1e-12)


def test_bernoulli_log_likelihood_is_stable_at_extreme_logits():
    """sigmoid(+-200) rounds to 1 / 0 in float32; the value from the logits stays exact."""
    x = torch.tensor([[1.0, 0.0, 1.0, 0.0]])
    logits = torch.tensor([[200.0, -200.0, -200.0, 200.0]], requires_grad=True)
    value = bernoulli_log_likelihood(x, logits)
    assert value.item() == pytest.approx(-400.0, rel=1e-6)  # two exact fits (log 1 = 0), two misses (log sigmoid(-200) = -200)
    (grad,) = torch.autograd.grad(value.sum(), logits)
    assert torch.isfinite(grad).all()


def test_bernoulli_gradient_is_x_minus_p():
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(3, 1, 4, 4, generator=generator, dtype=DTYPE)
    logits = torch.randn(3, 1, 4, 4, generator=generator, dtype=DTYPE, requires_grad=True)
    (grad,) = torch.autograd.grad(bernoulli_log_likelihood(x, logits).sum(), logits)
    assert torch.allclose(grad, x - torch.sigmoid(logits), atol=1e-12)
    assert torch.autograd.gradcheck(lambda l: bernoulli_log_likelihood(x, l), (logits,))
    assert torch.autograd.gradgradcheck(lambda l: bernoulli_log_likelihood(x, l), (logits,))


def test_bernoulli_mean_and_logits_are_inverse():
    p = torch.tensor([0.0, 0.2, 0.5, 1.0], dtype=DTYPE)
    assert torch.allclose(bernoulli_mean(bernoulli_logits(p)), p, rtol=0, atol=1.01e-6)  # clamped to [1e-6, 1 - 1e-6]
    assert torch.isfinite(bernoulli_logits(p)).all()


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="same shape"):
        bernoulli_log_likelihood(torch.zeros(2, 1, 3, 3), torch.zeros(2, 1, 3, 4))


# --- config ---------------------------------------------------------------------------------------


def test_config_default_is_gaussian_and_old_documents_load():
    assert VAEConfig().likelihood == "gaussian"
    old = {k: v for k, v in RHVAEConfig(network=MLP).to_dict().items() if k != "likelihood"}
    assert RHVAEConfig.from_dict(old).likelihood == "gaussian"
    config = RHVAEConfig(network=MLP, likelihood="bernoulli")
    assert RHVAEConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize("config_cls", [VAEConfig, RHVAEConfig, GeometricVAEConfig])
def test_incompatible_options_are_refused(config_cls):
    identity = NetworkConfig(**{**MLP.to_dict(), "output_activation": "identity"})
    with pytest.raises(ValueError, match="likelihood must be one of"):
        config_cls(network=MLP, likelihood="poisson")
    with pytest.raises(ValueError, match="output_activation 'sigmoid'"):
        config_cls(network=identity, likelihood="bernoulli")
    with pytest.raises(ValueError, match="residual_from_mean or linear_path"):
        config_cls(network=identity, likelihood="bernoulli", residual_from_mean=True)
    with pytest.raises(ValueError, match="residual_from_mean or linear_path"):
        config_cls(network=identity, likelihood="bernoulli", residual_from_mean=True, linear_path=True)


# --- models ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(CLASSES))
@pytest.mark.parametrize("network", [MLP, CONV], ids=["mlp", "conv"])
def test_decoder_outputs_logits_and_decode_returns_the_mean(kind, network):
    model = _model(kind, network)
    z = 4 * torch.randn(5, network.latent_size)
    logits = model.decoder_output(z)
    assert torch.equal(logits, model.decoder(z))  # no sigmoid inside the network
    assert logits.min() < 0 or logits.max() > 1  # unbounded: not squashed
    mean = model.decode(z)
    assert torch.allclose(mean, torch.sigmoid(logits)) and mean.min() >= 0 and mean.max() <= 1


@pytest.mark.parametrize("kind", list(CLASSES))
def test_vae_bound_uses_the_bernoulli_likelihood(kind):
    model = _model(kind).double()
    x = torch.rand(4, *MLP.in_shape, dtype=DTYPE)
    torch.manual_seed(3)
    out = model.vae_elbo(x)
    expected = bernoulli_log_likelihood(x, model.decoder_output(out.z))
    assert torch.allclose(out.terms["reconstruction"], expected, atol=1e-10)
    assert torch.allclose(out.reconstruction, model.decode(out.z), atol=1e-12)
    assert torch.allclose(out.elbo, out.terms["reconstruction"] - out.terms["kl"])
    gaussian = gaussian_log_likelihood(x, model.decode(out.z), 1.0)
    assert not torch.allclose(out.terms["reconstruction"], gaussian)


def _closed_form_grad_log_likelihood(model, x, z):
    """d/dz log p(x|z) for the one-hidden-layer decoder l = W2 relu(W1 z + b1) + b2: W1^T diag(1[a > 0]) W2^T (x - sigmoid(l))."""
    first, second = model.decoder.hidden[0], model.decoder.output
    pre = z @ first.weight.T + first.bias
    logits = torch.relu(pre) @ second.weight.T + second.bias
    residual = x.flatten(1) - torch.sigmoid(logits)
    return ((residual @ second.weight) * (pre > 0).to(z.dtype)) @ first.weight


def test_rhvae_potential_gradient_matches_the_closed_form_and_autograd():
    """The leapfrog's force grad U(z) = z - d/dz log p(x|z) (thesis ch. 1, eq. 1.5) with the Bernoulli likelihood."""
    model = _model("rhvae").double()
    x = torch.rand(5, *MLP.in_shape, dtype=DTYPE)
    z = torch.randn(5, MLP.latent_size, dtype=DTYPE)
    grad_potential, (log_likelihood, reconstruction) = model._potential_gradient(x)(z)
    closed_form = _closed_form_grad_log_likelihood(model, x, z)
    assert torch.allclose(grad_potential, z - closed_form, atol=1e-10)
    assert torch.allclose(log_likelihood, bernoulli_log_likelihood(x, model.decoder_output(z)), atol=1e-12)
    assert torch.allclose(reconstruction, model.decode(z))
    z_leaf = z.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: model.reconstruction_log_likelihood(x, model.decoder_output(v)), (z_leaf,))


@pytest.mark.parametrize("group", ["encoder", "decoder", "metric_network"])
def test_rhvae_elbo_gradient_matches_finite_differences(group):
    """The exact flow gradient (double backward through the Bernoulli force) against central differences."""
    torch.manual_seed(0)
    model = RHVAE(RHVAEConfig(network=MLP, likelihood="bernoulli", leapfrog_step_size=0.05)).double()
    x = torch.rand(3, *MLP.in_shape, dtype=DTYPE)
    parameter = next(getattr(model, group).parameters())

    def loss():
        torch.manual_seed(7)
        return model(x).loss

    (analytic,) = torch.autograd.grad(loss(), parameter)
    index = tuple(torch.nonzero(analytic.abs() == analytic.abs().max())[0].tolist())
    h = 1e-6
    with torch.no_grad():
        parameter[index] += h
        plus = loss().item()
        parameter[index] -= 2 * h
        minus = loss().item()
        parameter[index] += h
    assert (plus - minus) / (2 * h) == pytest.approx(float(analytic[index]), rel=1e-5, abs=1e-8)


def test_rhvae_without_flow_steps_gives_the_bernoulli_vae_bound():
    model = _model("rhvae", n_leapfrog=0).double()
    x = torch.rand(4, *MLP.in_shape, dtype=DTYPE)
    torch.manual_seed(1)
    out = model(x)
    mean, log_var = model.encode(x)
    log_q = torch.distributions.Normal(mean, torch.exp(0.5 * log_var)).log_prob(out.z).sum(-1)
    log_prior = torch.distributions.Normal(0.0, 1.0).log_prob(out.z).sum(-1)
    log_likelihood = bernoulli_log_likelihood(x, model.decoder_output(out.z))
    assert torch.allclose(out.elbo, log_likelihood + log_prior - log_q, atol=1e-8)


@pytest.mark.parametrize("kind", list(CLASSES))
def test_a_few_steps_train_and_the_model_round_trips(kind, tmp_path):
    model = _model(kind)
    data = torch.rand(6, *MLP.in_shape)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    before = model.vae_elbo(data).elbo.mean().item()
    for _ in range(30):
        optimizer.zero_grad()
        model(data).loss.backward()
        optimizer.step()
    torch.manual_seed(0)
    assert model.vae_elbo(data).elbo.mean().item() > before
    model.fit_metric(data, batch_size=4)
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    z = torch.randn(4, MLP.latent_size)
    model.eval()
    with torch.no_grad():
        assert torch.equal(loaded.decode(z), model.decode(z))
    batches = list(decoded_batches(loaded, z, batch_size=3))
    assert [b.shape for b in batches] == [(3, 3, 3), (1, 3, 3)]


def test_gaussian_checkpoint_without_the_key_loads_as_gaussian(tmp_path):
    torch.manual_seed(0)
    network = NetworkConfig(**{**MLP.to_dict(), "output_activation": "identity"})
    model = RHVAE(RHVAEConfig(network=network, observation_std=0.3))
    model.fit_metric(torch.rand(4, *MLP.in_shape), batch_size=2)
    save_model(model, tmp_path / "m")
    path = tmp_path / "m" / "model.json"
    document = json.loads(path.read_text())
    del document["config"]["likelihood"]
    path.write_text(json.dumps(document))
    loaded = load_model(tmp_path / "m")
    assert loaded.config.likelihood == "gaussian" and loaded.config == model.config
    z = torch.randn(3, MLP.latent_size)
    model.eval()
    with torch.no_grad():
        assert torch.equal(loaded.decode(z), model.decode(z))


def test_diagnostics_baseline_uses_the_model_likelihood():
    model = _model("vae")
    train, validation = torch.rand(6, *MLP.in_shape), torch.rand(3, *MLP.in_shape)
    figures = reconstruction_diagnostics(model, train, validation)
    mean_image = train.mean(0, keepdim=True).expand(3, *MLP.in_shape)
    expected = bernoulli_log_likelihood(validation, bernoulli_logits(mean_image)).double().mean().item()
    assert figures["validation_mean_image_log_likelihood"] == pytest.approx(expected, rel=1e-5)
