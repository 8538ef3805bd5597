"""medaug.sampling.synthesize: decoding overlaps writing, with the same bytes as a sequential run."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from medaug.models.networks import NetworkConfig
from medaug.models.vae import VAE, VAEConfig
from medaug.sampling.synthesize import BackgroundWriter, file_sha256, write_synthetic_volumes

SHAPE = (12, 14, 12)
AFFINE = np.diag([4.0, 4.0, 4.0, 1.0])


def test_overlapped_writing_gives_the_same_bytes(tmp_path):
    torch.manual_seed(0)
    model = VAE(VAEConfig(network=NetworkConfig(spatial_dims=3, spatial_shape=SHAPE, channels=(4, 8),
                                                strides=(2, 2), latent_size=3))).eval()
    latents = torch.randn(7, 3, generator=torch.Generator().manual_seed(1))
    ids = [f"sub-{i}" for i in range(7)]
    digests = {}
    for overlap in (False, True):
        directory = tmp_path / str(overlap)
        directory.mkdir()
        write_synthetic_volumes(model, latents, directory, ids, AFFINE, batch_size=3, overlap=overlap)
        digests[overlap] = {path.name: file_sha256(path) for path in sorted(directory.iterdir())}
    assert len(digests[True]) == 8  # samples.npy + 7 NIfTI files
    assert digests[True] == digests[False]


def test_background_writer_keeps_the_order_and_runs_off_the_calling_thread():
    seen, threads = [], set()

    def write(item):
        seen.append(item)
        threads.add(threading.current_thread().name)

    with BackgroundWriter(write, depth=1) as writer:
        for item in range(20):
            writer.submit(item)
    assert seen == list(range(20))
    assert threads == {"synthetic-writer"}


def test_background_writer_raises_the_writers_error():
    def write(item):
        if item == 2:
            raise OSError("disk full")

    writer = BackgroundWriter(write)
    with pytest.raises(OSError, match="disk full"):
        for item in range(50):
            writer.submit(item)
        writer.close()


def test_an_error_in_the_producer_stops_the_writer_without_hanging():
    written = []
    with pytest.raises(RuntimeError, match="decoder"):
        with BackgroundWriter(written.append) as writer:
            writer.submit(0)
            raise RuntimeError("decoder failed")
    assert written in ([], [0])
