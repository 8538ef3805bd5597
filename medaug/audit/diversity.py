"""Diversity: mean pairwise MS-SSIM and RMS difference within a set of volumes, and the share of
the real volumes' voxelwise variance a set holds.

The acceptance bar (:mod:`medaug.audit.checks`) is the in-mask MS-SSIM (:func:`masked_ms_ssim`)
of the real held-out volumes: a generator passes when its samples are at most that similar to each
other, plus a margin. The whole-volume MS-SSIM below and the PCA reference
(:mod:`medaug.audit.reference`) are reported as information.

MS-SSIM: lower = more varied. RMS difference (root-mean-square intensity difference inside the
brain mask, the distance :mod:`medaug.audit.memorisation` uses): higher = more varied; 0 for a
collapsed set.

The whole-volume MS-SSIM uses MONAI's :class:`~monai.metrics.MultiScaleSSIMMetric`. Its default
five scales and 11-voxel window need images larger than 160 voxels per axis; for model-ready
volumes such as 42x52x44 pass three scale weights and a window of 7 voxels or less (MONAI
requires, per axis, ``size // (n_scales - 1)^2 > kernel_size - 1``). The in-mask MS-SSIM uses the
same weights and window but its own mask-normalised statistics (:func:`masked_ms_ssim`), so the
scalp, skull and neck, where a VAE's samples vary most, do not count as diversity.

For speed, pairs are drawn at random without repetition (``max_pairs``), seeded.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from medaug.audit.memorisation import gaussian_kernel, masked_local_mean

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


def _check_scales(shape: Sequence[int], n_scales: int, mask: np.ndarray) -> None:
    if n_scales < 1:
        raise ValueError("masked MS-SSIM: need at least one scale weight")
    coarsest = [int(n) // 2 ** (n_scales - 1) for n in shape]
    if min(coarsest) < 1:
        raise ValueError(f"masked MS-SSIM: volumes of shape {tuple(shape)} are too small for {n_scales} scales")
    if tuple(mask.shape) != tuple(int(n) for n in shape):
        raise ValueError(f"masked MS-SSIM: mask {mask.shape} and volumes {tuple(shape)} differ in shape")


def _downsample(volumes: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Halve (B, 1, D, H, W) volumes by 2x2x2 means over their masked voxels; the coarse mask is the
    blocks at least half inside the mask. Returns (volumes, weight (D', H', W'))."""
    pooled_weight = F.avg_pool3d(weight[None, None], 2)
    pooled = F.avg_pool3d(volumes * weight, 2) / pooled_weight.clamp_min(1e-12)
    return pooled * (pooled_weight > 0), (pooled_weight[0, 0] >= 0.5).to(volumes.dtype)


def masked_ms_ssim(x: np.ndarray, y: np.ndarray, mask: np.ndarray, weights: Sequence[float], kernel_size: int,
                   kernel_sigma: float, data_range: float = 1.0, k1: float = 0.01, k2: float = 0.03) -> np.ndarray:
    """Multi-scale SSIM of paired volumes computed inside a mask only.

    MS-SSIM of Wang, Simoncelli and Bovik 2003 ("Multiscale structural similarity for image quality
    assessment"): at each scale j the contrast-structure term cs_j (and at the coarsest the
    luminance term too) is averaged, then ``prod_j cs_j^w_j * (l cs)_M^w_M``, each mean clipped at 0.
    Here every local statistic is a Gaussian-window mean over mask voxels only (normalised
    convolution, :func:`medaug.audit.memorisation.masked_local_mean`), the terms are averaged over the
    mask, and the next scale halves each axis by 2x2x2 means over masked voxels (its mask: blocks
    at least half inside). Voxels outside the mask (scalp, neck, background) therefore change
    nothing, which whole-volume MS-SSIM does not guarantee.

    Args:
        x, y: (B, D, H, W) in [0, ``data_range``]; mask: bool (D, H, W), not empty.
        weights: one exponent per scale, finest first; kernel_size (odd, voxels) / kernel_sigma (voxels): the window.
    Returns:
        (B,) float64 in [0, 1]; 1 for identical volumes (statistics in float32, as MONAI's).
    """
    x, y = np.ascontiguousarray(x, np.float32), np.ascontiguousarray(y, np.float32)
    mask = np.asarray(mask, dtype=bool)
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"masked MS-SSIM: expected two (B, D, H, W) arrays of one shape, got {x.shape}, {y.shape}")
    if not mask.any():
        raise ValueError("masked MS-SSIM: the mask is empty")
    _check_scales(x.shape[1:], len(weights), mask)
    kernel = gaussian_kernel(float(kernel_sigma), int(kernel_size) // 2)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    a = torch.as_tensor(x, dtype=torch.float32)[:, None]
    b = torch.as_tensor(y, dtype=torch.float32)[:, None]
    weight = torch.as_tensor(mask, dtype=torch.float32)
    terms = []
    for scale in range(len(weights)):
        inside = weight > 0.5
        if not bool(inside.any()):
            raise ValueError(f"masked MS-SSIM: the mask vanishes at scale {scale + 1} of {len(weights)}; use fewer scales")
        moments = masked_local_mean(torch.cat([a, b, a * a, b * b, a * b], dim=1), weight, kernel)
        mu_a, mu_b, ex2_a, ex2_b, ex_ab = moments.split(1, dim=1)
        var_a, var_b, cov = ex2_a - mu_a ** 2, ex2_b - mu_b ** 2, ex_ab - mu_a * mu_b
        cs = (2 * cov + c2) / (var_a + var_b + c2)
        if scale == len(weights) - 1:
            cs = cs * (2 * mu_a * mu_b + c1) / (mu_a ** 2 + mu_b ** 2 + c1)
        terms.append(cs[:, 0][:, inside].mean(1).clamp_min(0.0))
        if scale < len(weights) - 1:
            (a, _), (b, weight) = _downsample(a, weight), _downsample(b, weight)
    exponents = torch.as_tensor([float(w) for w in weights], dtype=torch.float64)
    return torch.prod(torch.stack(terms).double() ** exponents[:, None], dim=0).numpy()


def pairwise_masked_ms_ssim(volumes: np.ndarray, pairs: np.ndarray, mask: np.ndarray, weights: Sequence[float],
                            kernel_size: int, kernel_sigma: float, data_range: float = 1.0,
                            batch_size: int | None = None) -> np.ndarray:
    """:func:`masked_ms_ssim` of each pair ``(volumes[i], volumes[j])``: volumes (N, D, H, W), pairs int (P, 2) -> (P,).

    ``batch_size``: pairs per call; None takes as many as keep each float32 map near 64 MiB (at most 16).
    """
    if batch_size is None:
        batch_size = int(min(16, max(1, 2 ** 24 // max(1, int(np.prod(np.shape(volumes)[1:]))))))
    values = []
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start:start + batch_size]
        values.append(masked_ms_ssim(np.stack([volumes[i] for i in chunk[:, 0]]),
                                     np.stack([volumes[j] for j in chunk[:, 1]]), mask, weights, kernel_size,
                                     kernel_sigma, data_range))
    return np.concatenate(values) if values else np.zeros(0)


def masked_variance_sum(volumes: np.ndarray, mask: np.ndarray) -> float:
    """Sum over the mask of the voxelwise variance across ``volumes`` (N, D, H, W), N >= 2 (ddof 1):
    intensity units squared times voxels."""
    volumes, mask = np.asarray(volumes), np.asarray(mask, dtype=bool)
    if volumes.ndim != 4 or len(volumes) < 2 or volumes.shape[1:] != mask.shape:
        raise ValueError(f"masked_variance_sum: need (N >= 2, D, H, W) volumes matching the mask {mask.shape}, "
                         f"got {volumes.shape}")
    return float(volumes[:, mask].astype(np.float64).var(axis=0, ddof=1).sum())


def variance_share(volumes: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> float | None:
    """Share of the reference set's in-mask voxelwise variance that ``volumes`` hold:
    :func:`masked_variance_sum` (volumes) / the same of ``reference`` (both (N, D, H, W)).

    About 1 for another draw of real volumes, below 1 for a generator that varies less than real
    patients (0 for a collapsed set). None when the reference does not vary.
    """
    denominator = masked_variance_sum(reference, mask)
    return masked_variance_sum(volumes, mask) / denominator if denominator > 0 else None


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
    """Mean pairwise MS-SSIM (whole volumes, MONAI; and inside ``mask``) and RMS difference (inside
    ``mask``) over the same pairs.

    The pairs come from :func:`sample_pairs` with ``seed``, so two sets with the same number of
    volumes (the real training volumes and their PCA reconstructions) are compared on the same
    pairs. Returns ``{ms_ssim_mean, ms_ssim_std, ms_ssim_mask_mean, ms_ssim_mask_std, rms_mean,
    rms_std, n_pairs, n_volumes}``; means and sds are None with fewer than two volumes, the
    ``ms_ssim_mask_*`` ones also without a mask.
    """
    pairs = sample_pairs(len(volumes), max_pairs, seed)
    ms_ssim = pairwise_ms_ssim(volumes, pairs, weights, kernel_size, kernel_sigma, data_range)
    masked = (pairwise_masked_ms_ssim(volumes, pairs, mask, weights, kernel_size, kernel_sigma, data_range)
              if mask is not None else np.zeros(0))
    rms = pairwise_rms(volumes, pairs, mask)
    (ms_mean, ms_std), (mask_mean, mask_std) = _mean_std(ms_ssim), _mean_std(masked)
    rms_mean, rms_std = _mean_std(rms)
    return {"ms_ssim_mean": ms_mean, "ms_ssim_std": ms_std, "ms_ssim_mask_mean": mask_mean,
            "ms_ssim_mask_std": mask_std, "rms_mean": rms_mean, "rms_std": rms_std,
            "n_pairs": int(np.isfinite(ms_ssim).sum()), "n_volumes": int(len(volumes))}


def diversity_table(sets: Mapping[str, Mapping[str, np.ndarray]], max_pairs: int, seed: int, weights: Sequence[float],
                    kernel_size: int, kernel_sigma: float, mask: np.ndarray | None = None,
                    variance_reference: str | None = None) -> pd.DataFrame:
    """:func:`set_diversity` of every set: ``sets`` is group -> label -> volumes (N, D, H, W).

    One row per (group, label), in that order: group, label and the keys of :func:`set_diversity`;
    with a mask and ``variance_reference`` (a group of ``sets``) also ``variance_share``: the share
    of that group's in-mask voxelwise variance of the same label (:func:`variance_share`).
    """
    if variance_reference is not None and variance_reference not in sets:
        raise KeyError(f"diversity_table: variance reference group {variance_reference!r} is not among {list(sets)}")
    rows = []
    for group, by_label in sets.items():
        for label, volumes in by_label.items():
            result = set_diversity(volumes, max_pairs, seed, weights, kernel_size, kernel_sigma, mask)
            if mask is not None and variance_reference is not None:
                reference = sets[variance_reference][label]
                result["variance_share"] = (variance_share(volumes, reference, mask)
                                            if min(len(volumes), len(reference)) >= 2 else None)
            rows.append({"group": group, "label": label, **result})
            logger.info("diversity %s %s: %s", group, label, result)
    return pd.DataFrame(rows)
