"""Model diagnostics: pairwise RMS against hand-computed cases, and the figures of a trained or collapsed model."""

import math

import numpy as np
import pytest
import torch

from medaug.models.diagnostics import mean_pairwise_rms, reconstruction_diagnostics
from medaug.models.networks import NetworkConfig
from medaug.models.vae import VAE, VAEConfig

NETWORK = NetworkConfig(spatial_dims=2, spatial_shape=(8, 8), channels=(4,), strides=(2,), latent_size=2,
                        metric_hidden_size=4, output_activation="identity")


def test_mean_pairwise_rms_matches_a_hand_computed_case():
    volumes = np.stack([np.zeros((2, 2)), np.ones((2, 2)), np.full((2, 2), 3.0)])
    # pairs: |0-1| = 1, |0-3| = 3, |1-3| = 2 (constant images: RMS = the difference)
    assert mean_pairwise_rms(volumes) == pytest.approx(2.0)
    assert mean_pairwise_rms(volumes, max_items=2) == pytest.approx(1.0)
    assert mean_pairwise_rms(np.repeat(volumes[:1], 4, 0)) == 0.0


def test_mean_pairwise_rms_needs_two_volumes():
    with pytest.raises(ValueError, match="at least 2"):
        mean_pairwise_rms(np.zeros((1, 3, 3)))


def test_a_model_that_ignores_its_code_is_flagged_as_collapsed():
    """Decoder output independent of z: reconstructions do not differ, a latent step changes nothing."""
    torch.manual_seed(0)
    model = VAE(VAEConfig(network=NETWORK, residual_from_mean=True, observation_std=0.5))
    train = torch.rand(6, 1, 8, 8)
    model.prepare_for_training(train)
    for parameter in model.decoder.parameters():
        torch.nn.init.zeros_(parameter)
    figures = reconstruction_diagnostics(model, train, torch.rand(3, 1, 8, 8))
    assert figures["rms_reconstruction"] == pytest.approx(0.0, abs=1e-7)
    assert figures["rms_per_unit_latent_step"] == pytest.approx(0.0, abs=1e-7)
    assert figures["rms_real"] > figures["rms_pca"] > 0.0
    assert 0.0 < figures["pca_explained_variance"] <= 1.0
    # decoding the training mean everywhere: reconstruction error = distance of each volume to the mean
    expected = float((train - train.mean(0)).pow(2).mean().sqrt())
    assert figures["rmse_reconstruction"] == pytest.approx(expected, rel=1e-5)
    # the bound of a model that decodes to the mean is that baseline minus a KL >= 0
    assert figures["validation_vae_elbo"] <= figures["validation_mean_image_log_likelihood"] + 1e-3
    assert all(math.isfinite(v) for v in figures.values())


def test_diagnostics_leave_mode_and_random_state_alone():
    torch.manual_seed(0)
    model = VAE(VAEConfig(network=NETWORK, residual_from_mean=True, observation_std=0.5))
    train = torch.rand(5, 1, 8, 8)
    model.prepare_for_training(train)
    model.train()
    state = torch.get_rng_state()
    first = reconstruction_diagnostics(model, train, train[:2], seed=3)
    assert model.training
    assert torch.equal(torch.get_rng_state(), state)
    assert reconstruction_diagnostics(model, train, train[:2], seed=3) == first
    assert "validation_vae_elbo" not in reconstruction_diagnostics(model, train, None)
