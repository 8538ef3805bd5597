"""Decoding latent codes into volumes, batch by batch (the models' side of sampling)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["decoded_batches"]


@torch.no_grad()
def decoded_batches(model: nn.Module, latents: Tensor, batch_size: int, device: str | torch.device = "cpu") -> Iterator[np.ndarray]:
    """Decode ``latents`` (n, d) ``batch_size`` codes at a time: yields float32 (b, D, H, W) in [0, 1].

    The model decodes into (b, 1, D, H, W); the channel axis is dropped and values are clipped to
    [0, 1], the range of the min-max rescaled model-ready volumes. Raises ``ValueError`` if the
    decoder returns a non-finite value or more than one channel.
    """
    if int(batch_size) <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    was_training = model.training
    model.eval()
    try:
        for start in range(0, latents.shape[0], int(batch_size)):
            z = latents[start : start + int(batch_size)].to(device=device, dtype=torch.float32)
            volumes = model.decode(z)
            if volumes.ndim < 3 or volumes.shape[1] != 1:
                raise ValueError(f"expected decoded volumes (b, 1, *S), got {tuple(volumes.shape)}")
            if not bool(torch.isfinite(volumes).all()):
                raise ValueError(f"the decoder returned non-finite values for latent codes {start}..{start + z.shape[0] - 1}")
            yield volumes[:, 0].clamp_(0.0, 1.0).to("cpu", torch.float32).numpy()
    finally:
        model.train(was_training)
