"""medaug.audit.reference: rank-d PCA reconstructions of the real training volumes and their latent size d."""

from __future__ import annotations

import json

import numpy as np
import pytest

from medaug.audit import pca_reconstruction, reference_latent_size, set_diversity
from tests.audit._shared import SMALL_MS_SSIM, smooth_volumes


def rank_d_volumes(n: int, d: int, shape=(6, 7, 5), seed: int = 0) -> np.ndarray:
    """n volumes mean + sum of d fixed patterns with random weights: exactly rank d once centred (n > d)."""
    rng = np.random.default_rng(seed)
    patterns = rng.standard_normal((d, int(np.prod(shape))))
    weights = rng.standard_normal((n, d))
    return (0.5 + 0.05 * weights @ patterns).reshape(n, *shape)


def test_pca_reconstruction_is_exact_for_data_of_rank_d():
    volumes = rank_d_volumes(12, 3)
    result = pca_reconstruction(volumes, 3)
    assert result.volumes.shape == volumes.shape and result.rank == 3
    assert np.allclose(result.volumes, volumes, atol=1e-10)
    assert result.explained_variance == pytest.approx(1.0)
    assert np.allclose(pca_reconstruction(volumes, 5).volumes, volumes, atol=1e-10)   # more components: same


def test_pca_rank_zero_gives_the_mean_and_rank_is_capped_at_n_minus_one():
    volumes = smooth_volumes(5).astype(np.float64)
    zero = pca_reconstruction(volumes, 0)
    assert zero.rank == 0 and zero.explained_variance == 0.0
    assert np.allclose(zero.volumes, np.broadcast_to(volumes.mean(0), volumes.shape))
    full = pca_reconstruction(volumes, 10)
    assert full.rank == 4 and np.allclose(full.volumes, volumes, atol=1e-10)
    assert pca_reconstruction(np.repeat(volumes[:1], 3, 0), 2).explained_variance == 1.0   # nothing varies


def test_pca_explained_variance_is_the_share_of_squared_singular_values():
    rng = np.random.default_rng(0)
    # two orthogonal directions with variances 9 : 1 around a mean, plus nothing else
    directions = np.linalg.qr(rng.standard_normal((40, 2)))[0].T
    scores = rng.standard_normal((30, 2))
    scores -= scores.mean(0)
    scores = scores @ np.linalg.inv(np.linalg.cholesky(np.cov(scores, rowvar=False)).T)   # whiten exactly
    volumes = (1.0 + (scores * [3.0, 1.0]) @ directions).reshape(30, 5, 8, 1)
    one = pca_reconstruction(volumes, 1)
    assert one.explained_variance == pytest.approx(0.9)
    residual = volumes - one.volumes
    assert np.sum(residual ** 2) == pytest.approx(0.1 * np.sum((volumes - volumes.mean(0)) ** 2))
    with pytest.raises(ValueError, match="rank"):
        pca_reconstruction(volumes, -1)


def test_pca_reference_is_less_varied_than_the_noisy_real_set():
    rng = np.random.default_rng(1)
    clean = rank_d_volumes(10, 2, shape=(16, 20, 16), seed=1)
    noisy = np.clip(clean + 0.1 * rng.standard_normal(clean.shape), 0, 1).astype(np.float32)
    real = set_diversity(noisy, 20, 0, **SMALL_MS_SSIM)
    reference = set_diversity(pca_reconstruction(noisy, 2).volumes.astype(np.float32), 20, 0, **SMALL_MS_SSIM)
    assert reference["ms_ssim_mean"] > real["ms_ssim_mean"] and reference["rms_mean"] < real["rms_mean"]


def test_reference_latent_size_from_params_or_model_json(tmp_path):
    assert reference_latent_size({"latent_size": 7, "models_dir": "nowhere"}, "AD") == 7
    path = tmp_path / "AD" / "model" / "model.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"config": {"network": {"latent_size": 12}}}))
    assert reference_latent_size({"latent_size": None, "models_dir": str(tmp_path)}, "AD") == 12
    with pytest.raises(FileNotFoundError, match="CN/model/model.json"):
        reference_latent_size({"latent_size": None, "models_dir": str(tmp_path)}, "CN")
    path.write_text(json.dumps({"config": {}}))
    with pytest.raises(ValueError, match="latent_size"):
        reference_latent_size({"latent_size": None, "models_dir": str(tmp_path)}, "AD")
