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
