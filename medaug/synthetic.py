"""The synthetic-cohort format: what stage ``sample`` writes and the classifier and audit stages read.

A synthetic cohort of one label is a directory holding

    samples.npy              float32 (N, D, H, W) in [0, 1], the model-ready stack's shape and range,
                             written row block by row block through ``numpy.lib.format.open_memmap``
    <participant_id>.nii.gz  optional, one per sample, on the model-ready grid (its affine, MNI space)
    samples.tsv              participant_id (``syn-AD-000123``), diagnosis, row, [filename],
                             model, sampler, model_sha256, seed, params_hash, acceptance_rate
    montage.png              optional: real vs synthetic volumes (``sample.montage_volumes`` of each)
    latents.npy              optional (``sample.write_latents``): float32 (N, latent size), the decoded codes

The writer (:class:`SyntheticStackWriter`, :func:`synthetic_table`) takes volumes that are already
decoded (decoding is the models' job: :func:`medaug.models.decode.decoded_batches`); the reader
(:func:`read_synthetic`) also accepts a table whose ``path`` / ``filename`` column names one NIfTI
file per row, without ``samples.npy``. Only one batch of volumes is in memory at a time, and the
stack file is mapped anew for each block, so the resident memory stays bounded whatever N is.
"""

from __future__ import annotations

import os
from pathlib import Path
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from torch import Tensor

from medaug.bids.layout import read_table

__all__ = [
    "SAMPLES_TABLE",
    "SAMPLES_STACK",
    "LATENTS_NAME",
    "MONTAGE_NAME",
    "DEFAULT_MONTAGE_VOLUMES",
    "montage_volumes",
    "SyntheticCohortError",
    "SyntheticStackWriter",
    "nifti_name",
    "read_synthetic",
    "save_synthetic_nifti",
    "synthetic_participant_id",
    "synthetic_table",
]

SAMPLES_TABLE = "samples.tsv"
SAMPLES_STACK = "samples.npy"
LATENTS_NAME = "latents.npy"
MONTAGE_NAME = "montage.png"
#: real and synthetic volumes in the montage when ``sample.montage_volumes`` is absent (0: no montage)
DEFAULT_MONTAGE_VOLUMES = 4
_PATH_COLUMNS = ("path", "filename")


class SyntheticCohortError(ValueError):
    """A synthetic cohort directory that does not follow the format; names the file."""


def synthetic_participant_id(label: str, index: int) -> str:
    """``syn-<label>-<index, 6 digits>``, e.g. ``syn-AD-000123``."""
    return f"syn-{label}-{index:06d}"


def montage_volumes(sample_params: Mapping[str, Any]) -> int:
    """``sample.montage_volumes``, or :data:`DEFAULT_MONTAGE_VOLUMES` when absent."""
    return int(sample_params.get("montage_volumes", DEFAULT_MONTAGE_VOLUMES))


def nifti_name(participant_id: str) -> str:
    """File name of a sample's NIfTI volume, relative to the cohort directory."""
    return f"{participant_id}.nii.gz"


def save_synthetic_nifti(volume: np.ndarray, affine: np.ndarray, path: str | os.PathLike) -> None:
    """One volume (D, H, W) as float32 NIfTI with ``affine`` (RAS mm) as qform and sform, code 4 (MNI)."""
    import nibabel as nib

    image = nib.Nifti1Image(np.asarray(volume, dtype=np.float32), np.asarray(affine, dtype=float))
    image.header.set_xyzt_units("mm")
    image.header.set_qform(image.affine, code=4)
    image.header.set_sform(image.affine, code=4)
    nib.save(image, str(path))


class SyntheticStackWriter:
    """Writes ``samples.npy`` (and optionally one NIfTI per sample) of n volumes, block by block.

    Args:
        directory: an existing directory (normally a temporary one that replaces the real one when
            everything is written, see :func:`medaug.io.atomic_directory`).
        participant_ids: n names, in stack order.
        shape: (D, H, W) of every volume.
        affine: voxel-to-world (4, 4) of the model-ready grid; required when ``write_nifti``.
        write_nifti: also write ``<participant_id>.nii.gz`` (turn off for large n: the stack holds
            the same data).
    """

    def __init__(self, directory: str | os.PathLike, participant_ids: Sequence[str], shape: Sequence[int],
                 affine: np.ndarray | None, write_nifti: bool = True) -> None:
        if write_nifti and affine is None:
            raise ValueError("writing NIfTI files needs the model-ready grid's affine")
        self.directory = Path(directory)
        self.participant_ids = list(participant_ids)
        self.shape = tuple(int(s) for s in shape)
        self.affine = affine
        self.write_nifti = write_nifti
        self.rows_written = 0
        header_only = np.lib.format.open_memmap(self.stack_path, mode="w+", dtype=np.float32,
                                                shape=(len(self.participant_ids), *self.shape))
        del header_only  # header written, data still sparse

    @property
    def stack_path(self) -> Path:
        return self.directory / SAMPLES_STACK

    def write(self, batch: np.ndarray) -> None:
        """Append ``batch`` (b, D, H, W) float32 in [0, 1] after the rows already written."""
        if batch.shape[1:] != self.shape:
            raise ValueError(f"volumes of shape {batch.shape[1:]}, the stack holds {self.shape}")
        if self.rows_written + batch.shape[0] > len(self.participant_ids):
            raise ValueError(f"more than the {len(self.participant_ids)} volumes announced")
        _write_rows(self.stack_path, self.rows_written, batch)
        if self.write_nifti:
            for offset, volume in enumerate(batch):
                name = nifti_name(self.participant_ids[self.rows_written + offset])
                save_synthetic_nifti(volume, self.affine, self.directory / name)
        self.rows_written += batch.shape[0]


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
        table["filename"] = [nifti_name(pid) for pid in ids]
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


def read_synthetic(directory: str | Path) -> tuple[np.ndarray | None, pd.DataFrame]:
    """One label's synthetic samples: (stack (N, D, H, W) or None if stored as NIfTI, table).

    The table gains a ``row`` column (stack row) or a ``file`` column (absolute NIfTI path).
    """
    directory = Path(directory)
    table_path = directory / SAMPLES_TABLE
    table = read_table(table_path, ("participant_id", "diagnosis"))
    stack_path = directory / SAMPLES_STACK
    if stack_path.is_file():
        stack = np.load(stack_path, mmap_mode="r")
        if "row" not in table.columns:
            if stack.shape[0] != len(table):
                raise SyntheticCohortError(f"{stack_path}: {stack.shape[0]} volumes but {len(table)} rows in {table_path}")
            table["row"] = np.arange(len(table))
        elif len(table) and (table["row"].min() < 0 or table["row"].max() >= stack.shape[0]):
            raise SyntheticCohortError(f"{table_path}: 'row' out of range for {stack_path} ({stack.shape[0]} volumes)")
        return stack, table
    column = next((c for c in _PATH_COLUMNS if c in table.columns), None)
    if column is None:
        raise SyntheticCohortError(f"{directory}: neither {SAMPLES_STACK} nor a {'/'.join(_PATH_COLUMNS)} column in {table_path}")
    table["file"] = [str(p if Path(p).is_absolute() else directory / p) for p in table[column].astype(str)]
    return None, table
