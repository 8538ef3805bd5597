"""Turn latent codes into a synthetic cohort: decode them (:mod:`medaug.models.decode`) and write
them in the synthetic-cohort format (:mod:`medaug.synthetic`), with the provenance of each sample
(a seed per label and sampler, a digest of the parameters, the model file's hash).

Decoding and writing overlap: the decoder produces batch k + 1 while a background thread writes
batch k (stack rows, then gzip-compressed NIfTI files; zlib and file I/O release the GIL). One
thread writes every batch in order, so the files are the same bytes as a sequential run.

The functions here write into the directory they are given; the stage hands them a temporary
directory that replaces the real one only when everything is written (``medaug.io.atomic_directory``).
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from medaug.models.decode import decoded_batches
from medaug.synthetic import SyntheticStackWriter

__all__ = ["BackgroundWriter", "file_sha256", "params_digest", "write_synthetic_volumes"]


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


class BackgroundWriter:
    """Calls ``write(item)`` for every submitted item, in submission order, on one background thread.

    At most ``depth`` items wait in the queue (memory: ``depth`` + 1 decoded batches besides the
    one being decoded); :meth:`submit` blocks beyond that. An exception raised by ``write`` stops the
    thread and is raised again by the next :meth:`submit` or by :meth:`close`. Use as a context
    manager: leaving the block waits for every write (or, after an error in the block, stops the
    thread without writing what is still queued).
    """

    _STOP = object()

    def __init__(self, write: Callable[[Any], None], depth: int = 2) -> None:
        self._write = write
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, int(depth)))
        self._error: BaseException | None = None
        self._abort = False
        self._thread = threading.Thread(target=self._run, name="synthetic-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is self._STOP:
                return
            if self._error is None and not self._abort:
                try:
                    self._write(item)
                except BaseException as error:  # noqa: BLE001 - handed to the producer
                    self._error = error

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def submit(self, item: Any) -> None:
        """Queue ``item`` for writing (blocks while ``depth`` items wait)."""
        self._raise_error()
        self._queue.put(item)

    def close(self) -> None:
        """Wait for every queued write; raise the writer's exception if there was one."""
        if self._thread.is_alive():
            self._queue.put(self._STOP)
            self._thread.join()
        self._raise_error()

    def __enter__(self) -> "BackgroundWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._abort = True
            if self._thread.is_alive():
                self._queue.put(self._STOP)
                self._thread.join()
            return
        self.close()


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
    overlap: bool = True,
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
        overlap: write on a background thread while the next batch is decoded (same bytes; False:
            decode and write in turn on the calling thread).

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
    batches = tqdm(batches, total=total, desc="decode", unit="batch", disable=not progress, leave=False)
    if not overlap:
        for batch in batches:
            writer.write(batch)
    else:
        with BackgroundWriter(writer.write) as background:
            for batch in batches:
                background.submit(batch)
    return time.perf_counter() - started
