"""Diversity: mean pairwise MS-SSIM within a set of volumes (lower = more varied).

Uses MONAI's :class:`~monai.metrics.MultiScaleSSIMMetric`. Its default five scales and 11-voxel
window need images larger than 160 voxels per axis; for model-ready volumes such as 42x52x44 pass
three scale weights and a window of 7 voxels or less (MONAI requires, per axis,
``size // (n_scales - 1)^2 > kernel_size - 1``). Comparing the synthetic set's value with the real
set's tells whether the generator collapsed (synthetic much higher) or spreads like real patients.

For speed, pairs are drawn at random without repetition (``max_pairs``), seeded.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


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


def mean_pairwise_ms_ssim(volumes: np.ndarray, max_pairs: int, seed: int, weights: Sequence[float],
                          kernel_size: int, kernel_sigma: float, data_range: float = 1.0) -> dict:
    """``{ms_ssim_mean, ms_ssim_std, n_pairs, n_volumes}`` over sampled pairs of ``volumes`` (N, D, H, W).

    Mean and std are None with fewer than two volumes (or no finite value).
    """
    pairs = sample_pairs(len(volumes), max_pairs, seed)
    values = pairwise_ms_ssim(volumes, pairs, weights, kernel_size, kernel_sigma, data_range)
    finite = values[np.isfinite(values)]
    return {
        "ms_ssim_mean": float(finite.mean()) if len(finite) else None,
        "ms_ssim_std": float(finite.std(ddof=1)) if len(finite) > 1 else None,
        "n_pairs": int(len(finite)),
        "n_volumes": int(len(volumes)),
    }
