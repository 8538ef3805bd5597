"""Rank-d PCA reconstructions (medaug.models.pca): the linear yardstick of the model diagnostics."""

from __future__ import annotations

import numpy as np
import pytest

from medaug.models.pca import pca_reconstruction


def _stack(n=6, shape=(3, 4, 2), seed=0):
    return np.random.default_rng(seed).normal(size=(n, *shape)).astype(np.float32)


def test_rank_zero_gives_the_mean_volume_and_full_rank_gives_the_volumes_back():
    volumes = _stack()
    zero = pca_reconstruction(volumes, 0)
    assert zero.rank == 0 and zero.explained_variance == 0.0
    np.testing.assert_allclose(zero.volumes, np.broadcast_to(volumes.mean(axis=0), volumes.shape), atol=1e-6)
    full = pca_reconstruction(volumes, 100)
    assert full.rank == len(volumes) - 1  # a centred N-row matrix has rank N - 1
    assert full.volumes.shape == volumes.shape and full.volumes.dtype == np.float64
    np.testing.assert_allclose(full.volumes, volumes, atol=1e-5)
    assert full.explained_variance == pytest.approx(1.0)


def test_a_rank_d_set_is_kept_exactly_by_d_components_and_the_explained_share_grows_with_d():
    rng = np.random.default_rng(1)
    basis = rng.normal(size=(2, 24))
    volumes = (5.0 + rng.normal(size=(8, 2)) @ basis).reshape(8, 4, 6)  # mean + 2 directions
    two = pca_reconstruction(volumes, 2)
    np.testing.assert_allclose(two.volumes, volumes, atol=1e-9)
    assert two.explained_variance == pytest.approx(1.0)
    one = pca_reconstruction(volumes, 1)
    assert 0.0 < one.explained_variance < 1.0
    assert np.abs(one.volumes - volumes).max() > 1e-3


def test_identical_volumes_explain_all_of_their_zero_variance():
    volumes = np.ones((4, 3, 3))
    result = pca_reconstruction(volumes, 2)
    assert result.explained_variance == 1.0
    np.testing.assert_allclose(result.volumes, volumes)


@pytest.mark.parametrize("volumes, rank, message", [
    (np.zeros((0, 3)), 1, "non-empty"),
    (np.zeros(5), 1, "non-empty"),
    (np.zeros((3, 2)), -1, "rank must be >= 0"),
])
def test_bad_input_is_refused_with_its_shape_or_rank(volumes, rank, message):
    with pytest.raises(ValueError, match=message):
        pca_reconstruction(volumes, rank)
