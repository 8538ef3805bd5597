"""medaug.audit.diversity: pairs, MS-SSIM and RMS diversity of a set."""

from __future__ import annotations

import numpy as np
import pytest

from medaug.audit import (
    mean_pairwise_ms_ssim,
    pairwise_rms,
    sample_pairs,
    set_diversity,
)
from tests.audit._shared import SMALL_MS_SSIM, smooth_volumes


def test_sample_pairs_are_distinct_and_capped():
    pairs = sample_pairs(10, 7, seed=0)
    assert pairs.shape == (7, 2) and (pairs[:, 0] < pairs[:, 1]).all()
    assert len({tuple(p) for p in pairs}) == 7
    assert len(sample_pairs(4, 100, 0)) == 6 and len(sample_pairs(1, 100, 0)) == 0


def test_ms_ssim_diversity_detects_a_collapsed_set():
    varied = smooth_volumes(4, shape=(16, 20, 16))
    collapsed = np.repeat(varied[:1], 4, axis=0)
    high = mean_pairwise_ms_ssim(collapsed, 10, 0, **SMALL_MS_SSIM)
    low = mean_pairwise_ms_ssim(varied, 10, 0, **SMALL_MS_SSIM)
    assert high["ms_ssim_mean"] == pytest.approx(1.0, abs=1e-5) and high["n_pairs"] == 6
    assert low["ms_ssim_mean"] < 0.9
    assert mean_pairwise_ms_ssim(varied[:1], 10, 0, **SMALL_MS_SSIM)["ms_ssim_mean"] is None


def test_pairwise_rms_matches_direct_computation_and_is_zero_for_a_collapsed_set():
    volumes = smooth_volumes(4)
    mask = np.zeros(volumes.shape[1:], dtype=bool)
    mask[2:8] = True
    pairs = np.array([[0, 1], [2, 3]])
    direct = np.sqrt(((volumes[2][mask].astype(float) - volumes[3][mask]) ** 2).mean())
    assert pairwise_rms(volumes, pairs, mask)[1] == pytest.approx(direct)
    assert pairwise_rms(volumes, pairs)[0] == pytest.approx(np.sqrt(((volumes[0].astype(float) - volumes[1]) ** 2).mean()))
    collapsed = set_diversity(np.repeat(volumes[:1], 4, axis=0), 10, 0, **SMALL_MS_SSIM)
    assert collapsed["rms_mean"] == pytest.approx(0.0) and collapsed["n_pairs"] == 6


def test_masked_ms_ssim_ignores_voxels_outside_the_mask_and_matches_monai_on_a_full_mask():
    from medaug.audit import masked_ms_ssim
    from medaug.audit.diversity import pairwise_ms_ssim

    volumes = smooth_volumes(2, shape=(16, 20, 16))
    noisy = np.clip(volumes + 0.1 * np.random.default_rng(0).standard_normal(volumes.shape), 0, 1).astype(np.float32)
    full = np.ones(volumes.shape[1:], dtype=bool)
    both = np.concatenate([volumes, noisy])
    monai = pairwise_ms_ssim(both, np.array([[0, 2], [1, 3]]), **SMALL_MS_SSIM)
    assert masked_ms_ssim(volumes, noisy, full, **SMALL_MS_SSIM) == pytest.approx(monai, abs=0.01)
    assert masked_ms_ssim(volumes, volumes, full, **SMALL_MS_SSIM) == pytest.approx([1.0, 1.0], abs=1e-5)
    mask = np.zeros_like(full)
    mask[3:13, 4:16, 3:13] = True
    outside = noisy.copy()
    outside[:, ~mask] = np.random.default_rng(1).random((2, int((~mask).sum())))   # scramble the "scalp"
    inside = masked_ms_ssim(volumes, noisy, mask, **SMALL_MS_SSIM)
    assert masked_ms_ssim(volumes, outside, mask, **SMALL_MS_SSIM) == pytest.approx(inside, abs=1e-6)
    assert masked_ms_ssim(volumes, volumes[::-1], mask, **SMALL_MS_SSIM).max() < inside.min()
    with pytest.raises(ValueError, match="empty"):
        masked_ms_ssim(volumes, noisy, np.zeros_like(full), **SMALL_MS_SSIM)
    with pytest.raises(ValueError, match="too small"):
        masked_ms_ssim(volumes, noisy, full, [0.2] * 6, 3, 1.0)


def test_variance_share_is_one_for_the_reference_and_scales_with_the_square_of_the_spread():
    from medaug.audit import masked_variance_sum, variance_share

    volumes = smooth_volumes(6).astype(np.float64)
    mask = np.ones(volumes.shape[1:], dtype=bool)
    mean = volumes.mean(0)
    assert variance_share(volumes, volumes, mask) == pytest.approx(1.0)
    assert variance_share(mean + 0.5 * (volumes - mean), volumes, mask) == pytest.approx(0.25)
    assert variance_share(np.repeat(volumes[:1], 4, 0), volumes, mask) == pytest.approx(0.0)   # collapsed
    assert variance_share(volumes, np.repeat(volumes[:1], 4, 0), mask) is None                 # reference flat
    with pytest.raises(ValueError, match="N >= 2"):
        masked_variance_sum(volumes[:1], mask)
