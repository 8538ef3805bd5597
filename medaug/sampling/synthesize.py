"""Decode latent codes into synthetic volumes and write them as a synthetic cohort, batch by batch.

A synthetic cohort of one label is a directory holding

    samples.npy              float32 (N, D, H, W) in [0, 1], the model-ready stack's shape and range,
                             written row block by row block through ``numpy.lib.format.open_memmap``
    <participant_id>.nii.gz  optional, one per sample, on the model-ready grid (its affine, MNI space)
    samples.tsv              participant_id (``syn-AD-000123``), diagnosis, row, [filename],
                             model, sampler, model_sha256, seed, params_hash, acceptance_rate

Only one batch of volumes is in memory at a time, and the stack file is mapped anew for each block,
so the resident memory stays bounded whatever N is. The
functions here write into the directory they are given; the stage script hands them a temporary
directory that replaces the real one only when everything is written (``medaug.io.atomic_directory``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

__all__ = [
    "SAMPLES_TABLE",
    "SAMPLES_STACK",
    "synthetic_participant_id",
    "file_sha256",
    "params_digest",
    "derived_seed",
    "decoded_batches",
    "save_synthetic_nifti",
    "write_synthetic_volumes",
    "synthetic_table",
]

SAMPLES_TABLE = "samples.tsv"
SAMPLES_STACK = "samples.npy"  # the name medaug.classify.data.read_synthetic reads


def synthetic_participant_id(label: str, index: int) -> str:
    """``syn-<label>-<index, 6 digits>``, e.g. ``syn-AD-000123``."""
    return f"syn-{label}-{index:06d}"


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


def save_synthetic_nifti(volume: np.ndarray, affine: np.ndarray, path: str | os.PathLike) -> None:
    """One volume (D, H, W) as float32 NIfTI with ``affine`` (RAS mm) as qform and sform, code 4 (MNI)."""
    import nibabel as nib

    image = nib.Nifti1Image(np.asarray(volume, dtype=np.float32), np.asarray(affine, dtype=float))
    image.header.set_xyzt_units("mm")
    image.header.set_qform(image.affine, code=4)
    image.header.set_sform(image.affine, code=4)
    nib.save(image, str(path))


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
    if write_nifti and affine is None:
        raise ValueError("writing NIfTI files needs the model-ready grid's affine")
    shape = tuple(int(s) for s in model.config.network.spatial_shape)
    directory = Path(directory)
    started = time.perf_counter()
    stack_path = directory / SAMPLES_STACK
    header_only = np.lib.format.open_memmap(stack_path, mode="w+", dtype=np.float32, shape=(n, *shape))
    del header_only  # header written, data still sparse
    row = 0
    batches = decoded_batches(model, latents, batch_size, device)
    total = -(-n // int(batch_size)) if int(batch_size) > 0 else 0
    for batch in tqdm(batches, total=total, desc="decode", unit="batch", disable=not progress, leave=False):
        if batch.shape[1:] != shape:
            raise ValueError(f"decoded volumes have shape {batch.shape[1:]}, the model config says {shape}")
        _write_rows(stack_path, row, batch)
        if write_nifti:
            for offset, volume in enumerate(batch):
                save_synthetic_nifti(volume, affine, directory / f"{participant_ids[row + offset]}.nii.gz")
        row += batch.shape[0]
    return time.perf_counter() - started


def _write_rows(stack_path: Path, start: int, rows: np.ndarray) -> None:
    """Write ``rows`` (b, D, H, W) at ``start`` of an existing .npy stack, then unmap it.

    Mapping the file anew for each block (instead of holding one map for the whole run) keeps the
    written pages out of the process's resident memory: it stays one batch, whatever n.
    """
    stack = np.lib.format.open_memmap(stack_path, mode="r+")
    try:
        stack[start : start + rows.shape[0]] = rows
        stack.flush()
    finally:
        del stack


def synthetic_table(
    label: str,
    n: int,
    model_type: str,
    sampler: str,
    model_sha256: str,
    seed: int,
    params_hash: str,
    acceptance_rate: Tensor | None = None,
    with_files: bool = True,
) -> pd.DataFrame:
    """The ``samples.tsv`` rows of n synthetic samples of ``label``, in stack order.

    ``acceptance_rate`` (n,) is the per-chain acceptance of MCMC samplers (missing otherwise);
    ``with_files`` adds the ``filename`` column naming each NIfTI file (relative to the directory).
    """
    ids = [synthetic_participant_id(label, i) for i in range(int(n))]
    table = pd.DataFrame({"participant_id": ids, "diagnosis": label, "row": np.arange(int(n), dtype=int)})
    if with_files:
        table["filename"] = [f"{pid}.nii.gz" for pid in ids]
    table["model"] = model_type
    table["sampler"] = sampler
    table["model_sha256"] = model_sha256
    table["seed"] = int(seed)
    table["params_hash"] = params_hash
    if acceptance_rate is not None:
        table["acceptance_rate"] = np.round(acceptance_rate.double().numpy(), 6)
    else:
        table["acceptance_rate"] = np.nan
    return table
