"""medaug.audit.reconstruction: the trained model's reconstructions, loaded from its checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medaug.audit.reconstruction import label_model, reconstruct
from medaug.models.checkpoint import save_model
from medaug.models.networks import NetworkConfig
from medaug.models.ppca import fit_ppca
from medaug.models.vae import VAE, VAEConfig
from tests.audit._shared import smooth_volumes


def linear_vae(train: np.ndarray, latent_size: int, noise_std: float = 0.05) -> VAE:
    """An untrained VAE whose linear path is the PPCA of ``train`` (N, D, H, W) and whose networks output zero."""
    network = NetworkConfig(spatial_shape=train.shape[1:], latent_size=latent_size, architecture="mlp",
                            hidden_sizes=(8,), output_activation="identity")
    model = VAE(VAEConfig(network=network, observation_std=noise_std, residual_from_mean=True, linear_path=True))
    model.prepare_for_training(torch.from_numpy(train)[:, None])
    return model.eval()


def save_label_models(models_dir, volumes_by_label: dict[str, np.ndarray], latent_size: int) -> None:
    """``<models_dir>/<label>/model``: a :func:`linear_vae` of each label's training volumes."""
    torch.manual_seed(0)
    for label, train in volumes_by_label.items():
        save_model(linear_vae(train, latent_size), models_dir / label / "model")


def test_reconstructions_of_a_ppca_started_model_are_the_ppca_projections(tmp_path):
    torch.set_num_threads(1)
    train, held = smooth_volumes(10, seed=0), smooth_volumes(3, seed=1)
    save_label_models(tmp_path, {"AD": train}, latent_size=2)
    model = label_model(tmp_path, "AD")
    out = reconstruct(model, held, batch_size=2)
    fit = fit_ppca(torch.from_numpy(train).double()[:, None], 2, 0.05)
    centred = torch.from_numpy(held).double().reshape(3, -1) - fit.mean
    expected = (fit.mean + (centred @ fit.encoder_weight.T) @ fit.decoder_weight).clamp(0, 1).reshape(held.shape)
    assert out.shape == held.shape and out.dtype == np.float32
    assert np.allclose(out, expected.numpy(), atol=1e-4)
    assert np.abs(out - held).mean() > 0.01                       # a rank-2 model does not reproduce them


def test_missing_model_and_wrong_shapes_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="CN/model/model.json"):
        label_model(tmp_path, "CN")
    save_label_models(tmp_path, {"AD": smooth_volumes(6, seed=0)}, latent_size=2)
    with pytest.raises(ValueError, match="shape"):
        reconstruct(label_model(tmp_path, "AD"), smooth_volumes(2, shape=(8, 8, 8)), 2)
    with pytest.raises(ValueError, match="non-empty"):
        reconstruct(label_model(tmp_path, "AD"), np.zeros((0, 12, 14, 12), np.float32), 2)
