"""medaug.sampling.factory: latent samplers chosen by name for a trained model, and the seeded draw."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from medaug.models.metric import RHVAEMetric
from medaug.models.rhvae import RHVAE, RHVAEConfig
from medaug.sampling.baselines import GaussianMixtureSampler, PriorSampler
from medaug.sampling.factory import SAMPLER_NAMES, LatentDraw, SamplerError, build_latent_sampler, draw_latents
from medaug.sampling.hmc import RiemannianHMCSampler
from tests.sampling.test_synthesize import FAST_MCMC, NET, _model


@pytest.fixture(scope="module")
def models():
    return {kind: _model(kind) for kind in ("rhvae", "geometric_vae", "vae")}


@pytest.mark.parametrize("name", SAMPLER_NAMES)
def test_every_sampler_draws_finite_codes_for_a_model_it_fits(models, name):
    model = models["geometric_vae"] if name == "geometric_hmc" else models["rhvae"]
    means = model.metric.centroids if name != "geometric_hmc" else model.metric.means
    sampler = build_latent_sampler(name, model, FAST_MCMC[name], training_means=means)
    draw = draw_latents(sampler, 5, torch.Generator().manual_seed(1))
    assert draw.latents.shape == (5, NET.latent_size) and torch.isfinite(draw.latents).all()
    again = draw_latents(build_latent_sampler(name, model, FAST_MCMC[name], training_means=means), 5, torch.Generator().manual_seed(1))
    torch.testing.assert_close(draw.latents, again.latents)
    assert (draw.acceptance_rate is None) == (name in ("prior", "gmm"))


def test_sampler_errors_are_clear(models):
    with pytest.raises(SamplerError, match="unknown sampler"):
        build_latent_sampler("hmc", models["rhvae"])
    with pytest.raises(SamplerError, match="needs an RHVAE"):
        build_latent_sampler("rhvae_hmc", models["geometric_vae"])
    with pytest.raises(SamplerError, match="needs a geometry-aware VAE"):
        build_latent_sampler("geometric_hmc", models["rhvae"])
    with pytest.raises(SamplerError, match="unknown key"):
        build_latent_sampler("rhvae_hmc", models["rhvae"], {"n_step": 3})
    with pytest.raises(SamplerError, match="latent means"):
        build_latent_sampler("gmm", models["vae"])
    with pytest.raises(SamplerError, match="no centroids"):
        build_latent_sampler("random_walk", RHVAE(RHVAEConfig(network=NET)))
    with pytest.raises(SamplerError, match="positive"):
        draw_latents(build_latent_sampler("prior", models["vae"]), 0, torch.Generator())


def _rhvae_like(n_centroids: int = 3, d: int = 2):
    """What the factory reads of a model: ``latent_size``, ``model_type`` and ``metric``."""
    metric = RHVAEMetric(torch.randn(n_centroids, d, generator=torch.Generator().manual_seed(0)),
                         torch.eye(d).expand(n_centroids, d, d).clone())
    return SimpleNamespace(latent_size=d, model_type="rhvae", metric=metric)


def test_an_mcmc_sampler_gets_its_options_and_the_thread_count():
    sampler = build_latent_sampler("rhvae_hmc", _rhvae_like(), {"n_steps": 7, "step_size": 0.02}, num_threads=3)
    assert isinstance(sampler, RiemannianHMCSampler)
    assert (sampler.settings.n_steps, sampler.settings.step_size, sampler.settings.num_threads) == (7, 0.02, 3)
    own = build_latent_sampler("rhvae_hmc", _rhvae_like(), {"num_threads": 2}, num_threads=3)
    assert own.settings.num_threads == 2   # options win over the argument


def test_the_baselines_are_built_and_checked():
    model = SimpleNamespace(latent_size=2, model_type="vae")
    prior = build_latent_sampler("prior", model)
    assert isinstance(prior, PriorSampler) and prior.latent_dim == 2
    with pytest.raises(SamplerError, match=r"sampler 'prior': unknown key\(s\) \['n_components'\]"):
        build_latent_sampler("prior", model, {"n_components": 2})
    means = torch.randn(20, 2, generator=torch.Generator().manual_seed(0))
    assert isinstance(build_latent_sampler("gmm", model, {"n_components": 2}, training_means=means),
                      GaussianMixtureSampler)
    with pytest.raises(SamplerError, match="training means have d = 3, the model 2"):
        build_latent_sampler("gmm", model, training_means=torch.zeros(4, 3))
    with pytest.raises(SamplerError, match=r"latent means \(N, d\), N >= 1"):
        build_latent_sampler("gmm", model, training_means=torch.zeros(0, 2))
    with pytest.raises(SamplerError, match="unknown key"):
        build_latent_sampler("gmm", model, {"components": 2}, training_means=means)


def test_a_model_without_a_metric_is_named_by_its_type():
    with pytest.raises(SamplerError, match="sampler 'random_walk' needs an RHVAE .*; the model is 'vae'"):
        build_latent_sampler("random_walk", SimpleNamespace(latent_size=2, model_type="vae"))


def test_a_direct_draw_takes_every_number_from_the_generator():
    prior = build_latent_sampler("prior", SimpleNamespace(latent_size=3, model_type="vae"))
    draw = draw_latents(prior, 4, torch.Generator().manual_seed(5))
    expected = torch.randn(4, 3, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(draw.latents, expected)
    assert draw.acceptance_rate is None and draw.mean_acceptance is None


def test_mean_acceptance_is_over_all_chains():
    assert LatentDraw(torch.zeros(3, 2), torch.tensor([0.5, 1.0, 0.75])).mean_acceptance == pytest.approx(0.75)
    assert LatentDraw(torch.zeros(0, 2), torch.zeros(0)).mean_acceptance is None
