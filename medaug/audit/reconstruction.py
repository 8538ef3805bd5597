"""The trained generator's reconstructions of real volumes, the blur-matched reference of the
memorisation test (:func:`medaug.audit.memorisation.reconstruction_matched_test`).

A reconstruction encodes a volume to its posterior mean and decodes that code, clipped to [0, 1]
as the sampling stage clips decoded samples (:func:`medaug.models.decode.decoded_batches`), so it
is exactly as smooth as a sample decoded from a code there.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from medaug.models.checkpoint import CONFIG_NAME, load_model
from medaug.models.decode import decoded_batches
from medaug.models.vae import encode_dataset

MODEL_DIR = "model"
"""Where stage ``train_vae`` puts a label's checkpoint, relative to ``<models_dir>/<label>``."""


def label_model(models_dir: str | os.PathLike, label: str) -> nn.Module:
    """The trained model of ``label`` from ``<models_dir>/<label>/model`` (safetensors + JSON), on the CPU, eval mode.

    Raises ``FileNotFoundError`` naming the missing checkpoint.
    """
    directory = Path(os.fspath(models_dir)) / label / MODEL_DIR
    if not (directory / CONFIG_NAME).is_file():
        raise FileNotFoundError(f"{directory / CONFIG_NAME}: model not found; the blur-matched memorisation test "
                                f"reconstructs held-out volumes with the trained {label} model (stage train_vae, "
                                f"audit.reference.models_dir)")
    return load_model(directory, "cpu")


@torch.no_grad()
def reconstruct(model: nn.Module, volumes: np.ndarray, batch_size: int) -> np.ndarray:
    """Decode the posterior mean of each volume: (n, D, H, W) in [0, 1] -> float32 (n, D, H, W) in [0, 1].

    Raises ``ValueError`` for an empty set or volumes of another shape than the model's.
    """
    volumes = np.asarray(volumes)
    if volumes.ndim != 4 or len(volumes) == 0:
        raise ValueError(f"reconstruct: expected a non-empty (n, D, H, W) stack, got shape {volumes.shape}")
    data = torch.from_numpy(np.ascontiguousarray(volumes, dtype=np.float32))[:, None]
    means, _ = encode_dataset(model, data, int(batch_size))
    return np.concatenate(list(decoded_batches(model, means.cpu(), int(batch_size))))
