"""Turn latent codes into a synthetic cohort: decode them (:mod:`medaug.models.decode`) and write
them in the synthetic-cohort format (:mod:`medaug.synthetic`), with the provenance of each sample
(a seed per label and sampler, a digest of the parameters, the model file's hash).

The functions here write into the directory they are given; the stage hands them a temporary
directory that replaces the real one only when everything is written (``medaug.io.atomic_directory``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from medaug.models.decode import decoded_batches
from medaug.synthetic import SyntheticStackWriter

__all__ = ["file_sha256", "params_digest", "derived_seed", "write_synthetic_volumes"]


def file_sha256(path: str | os.PathLike, chunk_bytes: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk_bytes), b""):
            digest.update(block)
    return digest.hexdigest()


def params_digest(params: Any, length: int = 16) -> str:
    """First ``length`` hex digits of the sha256 of ``params`` as canonical JSON (sorted keys)."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def derived_seed(seed: int, *keys: str) -> int:
    """A seed in [0, 2**31) derived from ``seed`` and ``keys`` (e.g. label, sampler), stable across runs.

    Two labels (or samplers) sampled with the same base seed get independent streams.
    """
    text = "/".join([str(int(seed)), *keys])
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % (1 << 31)


def write_synthetic_volumes(
    model: nn.Module,
    latents: Tensor,
    directory: str | os.PathLike,
    participant_ids: Sequence[str],
    affine: np.ndarray | None,
    batch_size: int,
    device: str | torch.device = "cpu",
    write_nifti: bool = True,
    progress: bool = False,
) -> float:
    """Decode ``latents`` (n, d) into ``directory``: ``samples.npy`` and, if asked, one NIfTI per sample.

    Args:
        model: the trained generative model (``decode`` (b, d) -> (b, 1, D, H, W); ``config.network``).
        latents: (n, d).
        directory: an existing directory (normally a temporary one, see the module docstring).
        participant_ids: n names; the NIfTI files are ``<participant_id>.nii.gz``.
        affine: voxel-to-world (4, 4) of the model-ready grid; required when ``write_nifti``.
        batch_size: volumes decoded (and held in memory) at a time.
        device: where the decoder runs.
        write_nifti: also write the NIfTI files (turn off for large n: the stack holds the same data).
        progress: show a progress bar.

    Returns:
        seconds spent decoding and writing.
    """
    n = latents.shape[0]
    if len(participant_ids) != n:
        raise ValueError(f"{n} latent codes but {len(participant_ids)} participant ids")
    started = time.perf_counter()
    writer = SyntheticStackWriter(directory, participant_ids, model.config.network.spatial_shape, affine, write_nifti)
    total = -(-n // int(batch_size)) if int(batch_size) > 0 else 0
    batches = decoded_batches(model, latents, batch_size, device)
    for batch in tqdm(batches, total=total, desc="decode", unit="batch", disable=not progress, leave=False):
        writer.write(batch)
    return time.perf_counter() - started
