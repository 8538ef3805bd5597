"""medaug.audit.memorisation: masked RMS and SSIM distances, the brain mask, nearest neighbours and near-copy flags."""

from __future__ import annotations

import numpy as np
import pytest

from medaug.audit import (
    brain_mask,
    masked_rms_distances,
    masked_ssim,
    memorisation_summary,
    nearest_neighbours,
)
from tests.audit._shared import smooth_volumes


def test_rms_distances_match_direct_computation():
    volumes = smooth_volumes(5)
    mask = brain_mask(volumes, 0.0)
    mask[:2] = False
    d = masked_rms_distances(volumes[:2], volumes[2:], mask)
    direct = np.sqrt(((volumes[1][mask] - volumes[3][mask]).astype(float) ** 2).mean())
    assert d.shape == (2, 3)
    assert d[1, 1] == pytest.approx(direct, rel=1e-6)
    assert masked_rms_distances(volumes[:1], volumes[:1], mask)[0, 0] == pytest.approx(0.0, abs=1e-6)


def test_ssim_is_one_for_identical_and_lower_for_different_volumes():
    volumes = smooth_volumes(3)
    mask = np.ones(volumes.shape[1:], dtype=bool)
    same = masked_ssim(volumes[:1], volumes[:1], mask)
    other = masked_ssim(volumes[:1], volumes[1:2], mask)
    noisier = masked_ssim(volumes[:1], np.clip(volumes[:1] + 0.2 * np.random.default_rng(1).standard_normal(volumes[:1].shape), 0, 1), mask)
    assert same[0] == pytest.approx(1.0, abs=1e-6)
    assert other[0] < 0.9 and noisier[0] < same[0]


def test_brain_mask_rejects_empty_masks():
    with pytest.raises(ValueError, match="no voxel"):
        brain_mask(np.zeros((2, 3, 3, 3)), 0.1)


def test_planted_copy_is_nearest_and_flagged_while_held_out_are_not():
    train, held_out, synthetic = smooth_volumes(8, seed=0), smooth_volumes(4, seed=1), smooth_volumes(6, seed=2)
    synthetic[3] = train[5]                                                # the planted copy
    mask = brain_mask(train, 0.1)
    nn = nearest_neighbours(synthetic, train, mask, n_candidates=3)
    held = nearest_neighbours(held_out, train, mask, n_candidates=3)
    assert nn.l2_index[3] == 5 and nn.ssim_index[3] == 5
    assert nn.l2[3] == pytest.approx(0.0, abs=1e-6) and nn.ssim[3] == pytest.approx(1.0)
    summary = memorisation_summary(nn, held, ssim_min=0.95, l2_max=0.01)
    assert summary["n_near_copies"] == 1
    assert summary["share_closer_l2"] == pytest.approx(1 / 6)
    assert summary["share_closer_ssim"] >= 1 / 6          # the copy, maybe a chance neighbour too
    assert nn.ssim[3] > held.ssim.max()
    assert held.ssim.max() < 0.95


def test_ssim_search_over_all_candidates_is_exact():
    train, queries = smooth_volumes(5, seed=3), smooth_volumes(2, seed=4)
    mask = np.ones(train.shape[1:], dtype=bool)
    nn = nearest_neighbours(queries, train, mask, n_candidates=99)
    for i in range(2):
        scores = masked_ssim(np.repeat(queries[i:i + 1], 5, 0), train, mask)
        assert nn.ssim[i] == pytest.approx(scores.max()) and nn.ssim_index[i] == int(np.argmax(scores))


def test_brain_mask_erosion_fills_holes_first_and_refuses_to_vanish():
    volumes = np.zeros((2, 12, 12, 12), dtype=np.float32)
    volumes[:, 2:10, 2:10, 2:10] = 0.8
    volumes[:, 5:7, 5:7, 5:7] = 0.0                     # a dark "ventricle" inside
    head = brain_mask(volumes, 0.1)
    assert head.sum() == 8 ** 3 - 8 and not head[5, 5, 5]
    eroded = brain_mask(volumes, 0.1, erode_voxels=1)
    assert eroded.sum() == 6 ** 3 and eroded[5, 5, 5]   # shell peeled, hole filled, not widened
    with pytest.raises(ValueError, match="erode_voxels"):
        brain_mask(volumes, 0.1, erode_voxels=4)
    with pytest.raises(ValueError, match=">= 0"):
        brain_mask(volumes, 0.1, erode_voxels=-1)


def test_reconstruction_matched_test_counts_samples_below_the_quantile():
    from medaug.audit import nearest_distances, reconstruction_matched_test

    reconstructions = np.linspace(1.0, 2.0, 21)        # 0.05 quantile: 1.05
    result = reconstruction_matched_test(np.array([0.5, 1.04, 1.06, 3.0]), reconstructions, 0.05)
    assert result["reconstruction_nn_threshold"] == pytest.approx(1.05)
    assert result["share_closer_than_reconstructions"] == pytest.approx(0.5) and result["n_reconstructions"] == 21
    assert reconstruction_matched_test(np.ones(3), np.zeros(0), 0.05)["share_closer_than_reconstructions"] is None
    with pytest.raises(ValueError, match="quantile"):
        reconstruction_matched_test(np.ones(3), reconstructions, 5.0)
    with pytest.raises(ValueError, match="finite"):
        reconstruction_matched_test(np.array([np.nan]), reconstructions, 0.05)
    train, queries = smooth_volumes(5, seed=3), smooth_volumes(4, seed=4)
    mask = np.ones(train.shape[1:], dtype=bool)
    assert np.allclose(nearest_distances(queries, train, mask, batch_size=3),
                       masked_rms_distances(queries, train, mask).min(1))


def test_gaussian_blur_is_a_zero_padded_separable_correlation():
    """The shifted-sum blur equals scipy's 1-D correlation along each axis with zero padding."""
    from scipy import ndimage
    import torch

    from medaug.audit.memorisation import gaussian_blur, gaussian_kernel

    rng = np.random.default_rng(0)
    volumes = rng.random((2, 3, 9, 11, 10)).astype(np.float32)
    kernel = gaussian_kernel(1.5, 3).float()
    expected = volumes.astype(np.float64)
    for axis in (2, 3, 4):
        expected = ndimage.correlate1d(expected, kernel.double().numpy(), axis=axis, mode="constant", cval=0.0)
    blurred = gaussian_blur(torch.from_numpy(volumes), kernel)
    assert blurred.shape == volumes.shape and blurred.dtype == torch.float32
    np.testing.assert_allclose(blurred.numpy(), expected, atol=1e-6)
    # an asymmetric kernel shows the direction: out[i] = sum_j k[j] x[i + j - r]
    impulse = torch.zeros(1, 1, 5, 5, 5)
    impulse[0, 0, 2, 2, 2] = 1.0
    ramp = torch.tensor([0.0, 0.0, 1.0])
    assert gaussian_blur(impulse, ramp)[0, 0, 1, 1, 1] == 1.0
