"""Does a trained model generate? Figures that tell a collapsed model from a working one.

A model whose decoder maps every latent code to nearly the same volume (a class prototype) can
still reach a plausible ELBO on a small cohort. These figures compare the spread of its
reconstructions with two references computed from the same training volumes:

* the real volumes themselves (noise included);
* their rank-d PCA reconstructions (d = the latent size): what a d-dimensional *linear* model of
  the data holds once noise is removed. A d-dimensional VAE should reach about as much.

Spreads are mean pairwise RMS differences between volumes, in the volumes' intensity units
(model-ready volumes are rescaled to [0, 1]).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from medaug.models.pca import pca_reconstruction
from medaug.models.vae import VAE, encode_dataset

__all__ = ["mean_pairwise_rms", "reconstruction_diagnostics"]


def mean_pairwise_rms(volumes: np.ndarray | Tensor, max_items: int | None = None) -> float:
    """Mean over pairs i < j of sqrt(mean((v_i - v_j)^2)): (N, ...) -> float; N >= 2.

    ``max_items`` keeps the first items only (cost is N^2 V).
    """
    flat = np.asarray(volumes, dtype=np.float64).reshape(len(volumes), -1)
    if max_items is not None:
        flat = flat[:max_items]
    if flat.shape[0] < 2:
        raise ValueError(f"need at least 2 volumes for a pairwise figure, got {flat.shape[0]}")
    squared = (flat**2).sum(1)
    distances = (squared[:, None] + squared[None, :] - 2.0 * flat @ flat.T) / flat.shape[1]
    upper = np.triu_indices(flat.shape[0], 1)
    return float(np.sqrt(np.clip(distances[upper], 0.0, None)).mean())


@torch.no_grad()
def reconstruction_diagnostics(model: VAE, train: Tensor, validation: Tensor | None = None,
                               batch_size: int = 16, max_items: int = 100, seed: int = 0) -> dict[str, float]:
    """Spread of the model's reconstructions against the real and rank-d PCA references.

    Args:
        model: a trained model of the VAE family.
        train: its training volumes, (N, C, *S).
        validation: held-out volumes for the bounds, (M, C, *S), or None.
        batch_size: volumes per forward pass.
        max_items: volumes used for the pairwise figures.
        seed: seeds the Monte Carlo draw of the validation bounds.

    Returns:
        ``rms_real``, ``rms_pca``, ``rms_reconstruction`` (mean pairwise RMS), ``rmse_pca``,
        ``rmse_reconstruction`` (RMS error against the real volumes), ``pca_explained_variance``,
        ``rms_per_unit_latent_step`` (RMS change of the decoded volume along a unit latent step
        from each training code, averaged), ``latent_mean_norm`` (mean |mu(x)|); with
        ``validation``: ``validation_vae_elbo`` (nats per volume) and
        ``validation_mean_image_log_likelihood`` (the bound of a model that decodes every code to
        the training mean with no KL cost: a trained model should beat it).
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    means = encode_dataset(model, train, batch_size)[0]
    reconstruction = torch.cat([model.decode(means[i : i + batch_size]).cpu() for i in range(0, len(means), batch_size)])
    generator = torch.Generator().manual_seed(seed)
    directions = torch.randn(means.shape, generator=generator)
    directions = (directions / directions.norm(dim=1, keepdim=True)).to(device)
    stepped = torch.cat([model.decode(means[i : i + batch_size] + directions[i : i + batch_size]).cpu()
                         for i in range(0, len(means), batch_size)])
    real = train.cpu().double().numpy()
    reference = pca_reconstruction(real, model.latent_size)
    pca, explained = reference.volumes, reference.explained_variance
    figures = {
        "rms_real": mean_pairwise_rms(real, max_items),
        "rms_pca": mean_pairwise_rms(pca, max_items),
        "rms_reconstruction": mean_pairwise_rms(reconstruction.numpy(), max_items),
        "rmse_pca": float(np.sqrt(((pca - real) ** 2).mean())),
        "rmse_reconstruction": float((reconstruction.double() - train.cpu().double()).pow(2).mean().sqrt()),
        "pca_explained_variance": explained,
        "rms_per_unit_latent_step": float((stepped - reconstruction).double().pow(2).flatten(1).mean(1).sqrt().mean()),
        "latent_mean_norm": float(means.norm(dim=1).mean()),
    }
    if validation is not None and validation.shape[0] > 0:
        figures.update(_validation_figures(model, train, validation, batch_size, seed, device))
    model.train(was_training)
    return {k: (v if math.isfinite(v) else float("nan")) for k, v in figures.items()}


def _validation_figures(model: VAE, train: Tensor, validation: Tensor, batch_size: int, seed: int,
                        device: torch.device) -> dict[str, float]:
    """The held-out VAE bound (seeded, RNG state restored) and the mean-image baseline (nats per volume)."""
    state = torch.get_rng_state()
    torch.manual_seed(seed)
    try:
        bounds = torch.cat([model.vae_elbo(validation[i : i + batch_size].to(device)).elbo.cpu()
                            for i in range(0, len(validation), batch_size)])
    finally:
        torch.set_rng_state(state)
    mean_image = train.to(device).mean(0, keepdim=True)
    mean_output = model.output_for_mean(mean_image)  # the model's own likelihood (Gaussian mean or Bernoulli logits)
    baseline = torch.cat([model.reconstruction_log_likelihood(validation[i : i + batch_size].to(device),
                                                              mean_output.expand(min(batch_size, len(validation) - i), *mean_output.shape[1:])).cpu()
                          for i in range(0, len(validation), batch_size)])
    return {"validation_vae_elbo": float(bounds.double().mean()),
            "validation_mean_image_log_likelihood": float(baseline.double().mean())}
