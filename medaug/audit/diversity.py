"""Diversity: mean pairwise MS-SSIM and RMS difference within a set of volumes.

MS-SSIM: lower = more varied. RMS difference (root-mean-square intensity difference inside the
brain mask, the distance :mod:`medaug.audit.memorisation` uses): higher = more varied; 0 for a
collapsed set.

Uses MONAI's :class:`~monai.metrics.MultiScaleSSIMMetric`. Its default five scales and 11-voxel
window need images larger than 160 voxels per axis; for model-ready volumes such as 42x52x44 pass
three scale weights and a window of 7 voxels or less (MONAI requires, per axis,
``size // (n_scales - 1)^2 > kernel_size - 1``). Comparing the synthetic set's value with the real
set's tells whether the generator collapsed (synthetic much higher) or spreads like real patients;
:mod:`medaug.audit.reference` gives the fairer yardstick of a rank-d linear model of the real set.

For speed, pairs are drawn at random without repetition (``max_pairs``), seeded.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

logger = logging.getLogger(__name__)


def sample_pairs(n: int, max_pairs: int, seed: int) -> np.ndarray:
    """Up to ``max_pairs`` distinct unordered pairs (i < j) of ``range(n)``: int (P, 2), seeded.

    All pairs when there are at most ``max_pairs``; none when ``n < 2``.
    """
    i, j = np.triu_indices(int(n), k=1)
    pairs = np.stack([i, j], axis=1)
    if len(pairs) > max_pairs:
        rows = np.random.default_rng(seed).choice(len(pairs), size=int(max_pairs), replace=False)
        pairs = pairs[np.sort(rows)]
    return pairs


def pairwise_ms_ssim(volumes: np.ndarray, pairs: np.ndarray, weights: Sequence[float], kernel_size: int,
                     kernel_sigma: float, data_range: float = 1.0, batch_size: int = 16) -> np.ndarray:
    """MS-SSIM of each pair ``(volumes[i], volumes[j])``.

    Args:
        volumes: (N, D, H, W) in [0, ``data_range``]; pairs: int (P, 2).
        weights: one weight per scale (MONAI's ``weights``); kernel_size / kernel_sigma: Gaussian window.
    Returns:
        (P,) float64 MS-SSIM values (NaN where MONAI returns NaN).
    """
    from monai.metrics import MultiScaleSSIMMetric

    metric = MultiScaleSSIMMetric(spatial_dims=3, data_range=data_range, kernel_size=int(kernel_size),
                                  kernel_sigma=float(kernel_sigma), weights=tuple(float(w) for w in weights),
                                  reduction="none")
    values = []
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start:start + batch_size]
        a = torch.as_tensor(np.stack([volumes[i] for i in chunk[:, 0]]), dtype=torch.float32)[:, None]
        b = torch.as_tensor(np.stack([volumes[j] for j in chunk[:, 1]]), dtype=torch.float32)[:, None]
        values.append(metric(a, b).reshape(-1).double().numpy())
    return np.concatenate(values) if values else np.zeros(0)


def pairwise_rms(volumes: np.ndarray, pairs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Root-mean-square intensity difference of each pair ``(volumes[i], volumes[j])``.

    Args:
        volumes: (N, D, H, W); pairs: int (P, 2); mask: bool (D, H, W) or None (every voxel).
    Returns:
        (P,) float64, ``sqrt(mean over the mask of (v_i - v_j)^2)``, in intensity units.
    """
    values = np.zeros(len(pairs))
    for row, (i, j) in enumerate(pairs):
        diff = np.asarray(volumes[i], dtype=np.float64) - np.asarray(volumes[j], dtype=np.float64)
        values[row] = np.sqrt(np.mean((diff[mask] if mask is not None else diff) ** 2))
    return values


def _mean_std(values: np.ndarray) -> tuple[float | None, float | None]:
    finite = values[np.isfinite(values)]
    return (float(finite.mean()) if len(finite) else None,
            float(finite.std(ddof=1)) if len(finite) > 1 else None)


def mean_pairwise_ms_ssim(volumes: np.ndarray, max_pairs: int, seed: int, weights: Sequence[float],
                          kernel_size: int, kernel_sigma: float, data_range: float = 1.0) -> dict:
    """``{ms_ssim_mean, ms_ssim_std, n_pairs, n_volumes}`` over sampled pairs of ``volumes`` (N, D, H, W).

    Mean and std are None with fewer than two volumes (or no finite value).
    """
    pairs = sample_pairs(len(volumes), max_pairs, seed)
    values = pairwise_ms_ssim(volumes, pairs, weights, kernel_size, kernel_sigma, data_range)
    mean, std = _mean_std(values)
    return {"ms_ssim_mean": mean, "ms_ssim_std": std, "n_pairs": int(np.isfinite(values).sum()),
            "n_volumes": int(len(volumes))}


def set_diversity(volumes: np.ndarray, max_pairs: int, seed: int, weights: Sequence[float], kernel_size: int,
                  kernel_sigma: float, mask: np.ndarray | None = None, data_range: float = 1.0) -> dict:
    """Mean pairwise MS-SSIM (whole volumes) and RMS difference (inside ``mask``) over the same pairs.

    The pairs come from :func:`sample_pairs` with ``seed``, so two sets with the same number of
    volumes (the real training volumes and their PCA reconstructions) are compared on the same
    pairs. Returns ``{ms_ssim_mean, ms_ssim_std, rms_mean, rms_std, n_pairs, n_volumes}``; means
    and sds are None with fewer than two volumes.
    """
    pairs = sample_pairs(len(volumes), max_pairs, seed)
    ms_ssim = pairwise_ms_ssim(volumes, pairs, weights, kernel_size, kernel_sigma, data_range)
    rms = pairwise_rms(volumes, pairs, mask)
    (ms_mean, ms_std), (rms_mean, rms_std) = _mean_std(ms_ssim), _mean_std(rms)
    return {"ms_ssim_mean": ms_mean, "ms_ssim_std": ms_std, "rms_mean": rms_mean, "rms_std": rms_std,
            "n_pairs": int(np.isfinite(ms_ssim).sum()), "n_volumes": int(len(volumes))}


def diversity_table(sets: Mapping[str, Mapping[str, np.ndarray]], max_pairs: int, seed: int, weights: Sequence[float],
                    kernel_size: int, kernel_sigma: float, mask: np.ndarray | None = None) -> pd.DataFrame:
    """:func:`set_diversity` of every set: ``sets`` is group -> label -> volumes (N, D, H, W).

    One row per (group, label), in that order: group, label and the keys of :func:`set_diversity`.
    """
    rows = []
    for group, by_label in sets.items():
        for label, volumes in by_label.items():
            result = set_diversity(volumes, max_pairs, seed, weights, kernel_size, kernel_sigma, mask)
            rows.append({"group": group, "label": label, **result})
            logger.info("diversity %s %s: %s", group, label, result)
    return pd.DataFrame(rows)
