"""Observation models p(x|z) of the VAE family, as pure functions of the decoder's output.

Two likelihoods, chosen by :attr:`medaug.models.vae.VAEConfig.likelihood`:

* ``"gaussian"``: x | z ~ N(mu_theta(z), s^2 I); the decoder outputs the mean.
  :func:`medaug.models.vae.gaussian_log_likelihood` (kept in that module, where the rest of the
  code imports it from).
* ``"bernoulli"``: each value x_j in [0, 1] is a Bernoulli parameter target with
  p_j = sigmoid(l_j), l = the decoder's logits (Chadebec, PhD thesis, ch. 1, table 1.10: the MNIST,
  EMNIST and Fashion decoders end in a sigmoid; the thesis trains them with this cross-entropy):

      log p(x|z) = sum_j x_j log p_j + (1 - x_j) log(1 - p_j).

  For x in [0, 1] that is not binary this is the usual "continuous Bernoulli without its
  normaliser" cross-entropy, as in the thesis' grey-level MNIST experiments. It is computed from
  the logits (``binary_cross_entropy_with_logits``), never from p: log(sigmoid(l)) from p loses
  every digit once p rounds to 0 or 1 in floating point.

Shapes: x, logits (B, C, *S) (any non-batch axes); results (B,).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = ["LIKELIHOODS", "bernoulli_log_likelihood", "bernoulli_mean", "bernoulli_logits"]

#: Names accepted by ``VAEConfig.likelihood``.
LIKELIHOODS: tuple[str, ...] = ("gaussian", "bernoulli")


def bernoulli_log_likelihood(x: Tensor, logits: Tensor) -> Tensor:
    """sum_j x_j log sigmoid(l_j) + (1 - x_j) log(1 - sigmoid(l_j)) over all non-batch axes: (B, ...) -> (B,).

    Stable for any finite logits (computed as -BCE with logits). Its gradient with respect to the
    logits is x - sigmoid(l).
    """
    if x.shape != logits.shape:
        raise ValueError(f"x {tuple(x.shape)} and logits {tuple(logits.shape)} must have the same shape")
    per_value = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return -per_value.flatten(1).sum(1)


def bernoulli_mean(logits: Tensor) -> Tensor:
    """E[x|z] = sigmoid(l), in [0, 1]: (B, ...) -> (B, ...)."""
    return torch.sigmoid(logits)


def bernoulli_logits(mean: Tensor, eps: float = 1e-6) -> Tensor:
    """Inverse of :func:`bernoulli_mean`, log(p / (1 - p)) with p clamped to [eps, 1 - eps]: (B, ...) -> (B, ...).

    For a fixed image used as a decoder output (e.g. the training mean image as a baseline).
    """
    return torch.logit(mean, eps=eps)
