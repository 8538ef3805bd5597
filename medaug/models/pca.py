"""Rank-d PCA reconstructions of a set of volumes: what a d-dimensional *linear* model keeps.

The yardstick for a generative model with a d-dimensional latent space: a VAE should vary at
least as much as the projection of its training volumes onto their first d principal components
(noise removed), which is the maximum-likelihood linear-Gaussian model of the same data
(probabilistic PCA, Tipping and Bishop 1999). Used by the model diagnostics
(:mod:`medaug.models.diagnostics`) and the synthetic-data audit (:mod:`medaug.audit.reference`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PCAReconstruction", "pca_reconstruction"]


@dataclass(frozen=True)
class PCAReconstruction:
    """Rank-d reconstructions of a set of volumes.

    Attributes:
        volumes: (N, *spatial) float64, ``mean + projection onto the first `rank` components``.
        rank: the number of components kept: ``min(d, N - 1)`` (a centred N-row matrix has rank <= N - 1).
        explained_variance: share of the total variance (sum of squared singular values) the kept
            components hold, in [0, 1]; 1.0 when the volumes do not vary at all.
    """

    volumes: np.ndarray
    rank: int
    explained_variance: float


def pca_reconstruction(volumes: np.ndarray, rank: int) -> PCAReconstruction:
    """Reconstruct every volume from the first ``rank`` principal components of the set.

    Args:
        volumes: (N, *spatial), N >= 1, any real dtype; flattened to the (N, V) matrix X.
        rank: d >= 0. d = 0 gives the mean volume N times; d >= N - 1 gives the volumes back.
    Returns:
        :class:`PCAReconstruction`. With ``Xc = X - mean`` and ``Xc = U S Vt`` (thin SVD), the
        reconstructions are ``mean + U[:, :d] S[:d] Vt[:d]`` and the explained variance is
        ``sum(S[:d]^2) / sum(S^2)``.

    Memory: the SVD holds about three (N, V) float64 matrices (N = 72, V = 42 x 52 x 44: 170 MB).
    """
    volumes = np.asarray(volumes)
    if volumes.ndim < 2 or len(volumes) == 0:
        raise ValueError(f"pca_reconstruction: expected a non-empty (N, ...) stack, got shape {volumes.shape}")
    if int(rank) < 0:
        raise ValueError(f"pca_reconstruction: rank must be >= 0, got {rank}")
    matrix = volumes.reshape(len(volumes), -1).astype(np.float64)
    mean = matrix.mean(axis=0)
    centred = matrix - mean
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    kept = min(int(rank), max(len(volumes) - 1, 0), len(s))
    recon = mean + (u[:, :kept] * s[:kept]) @ vt[:kept]
    total = float((s ** 2).sum())
    explained = float((s[:kept] ** 2).sum() / total) if total > 0 else 1.0
    return PCAReconstruction(recon.reshape(volumes.shape), kept, explained)
