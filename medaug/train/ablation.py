"""Did training add anything to the start? Held-out bounds of the start, the kept model and its linear path alone.

A model whose linear path starts at the maximum-likelihood PPCA of its training set (Tipping and
Bishop 1999) begins with an exact posterior and a bound that is already the best a d-dimensional
linear model reaches on the training volumes. Training can only pay off if, on held-out volumes,
the kept model beats

* the untrained start (the PPCA; recorded by the trainer before the first step), and
* its own linear path with the networks' output layers set to zero (what the networks add),

all three scored with the same plain VAE bound and the same Monte Carlo noise
(:func:`medaug.train.trainer.evaluate_elbo`).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor

from medaug.models.vae import VAE, network_output_layers
from medaug.train.trainer import evaluate_elbo

__all__ = ["networks_zeroed", "networks_zeroed_elbo"]


@torch.no_grad()
def networks_zeroed(model: VAE) -> VAE:
    """A copy of ``model`` whose encoder and decoder networks add nothing: their output layers are zero.

    With a linear path this leaves the linear model (decoder mean m + W z, encoder mean A (x - m),
    log-variance b); the metric network, which the VAE bound does not use, is left as it is.
    """
    if not getattr(model.config, "linear_path", False):
        raise ValueError("networks_zeroed needs a model with a linear path (linear_path: true)")
    ablated = copy.deepcopy(model)
    for layer in network_output_layers(ablated.encoder, ablated.decoder):
        layer.weight.zero_()
        if layer.bias is not None:
            layer.bias.zero_()
    return ablated


def networks_zeroed_elbo(model: VAE, data: Tensor, batch_size: int, seed: int) -> float:
    """Mean VAE bound (nats per volume) of ``data`` (N, C, *S) under :func:`networks_zeroed` ``(model)``."""
    return evaluate_elbo(networks_zeroed(model), data, batch_size, seed=seed)
