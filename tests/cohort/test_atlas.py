"""medaug.cohort.atlas: Gaussian region weights, the head shell and the ventricle centres, on small grids.

The template atlas itself (nilearn's MNI152, about 10 s to build) is used by test_generate.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from medaug.cohort.atlas import TemplateAtlas, _bounding_box, _ventricle_centres, _with_head_shell, gaussian_weight


def test_gaussian_weight_by_hand():
    points = np.array([[0.0, 2.0, 0.0], [0.0, 0.0, 6.0], [0.0, 0.0, 0.0]])
    weights = gaussian_weight(points, (0.0, 0.0, 0.0), (2.0, 3.0, 1.0))
    np.testing.assert_allclose(weights, [1.0, np.exp(-0.5), np.exp(-2.0)], rtol=1e-6)
    assert weights.dtype == np.float32
    grid = np.zeros((3, 4, 5))
    assert gaussian_weight(grid, (1.0, 0.0, 0.0), (1.0, 1.0, 1.0)).shape == (4, 5)


def test_bounding_box_with_margin_stays_on_the_grid():
    mask = np.zeros((10, 8, 6), bool)
    mask[0:3, 2:5, 5] = True
    np.testing.assert_array_equal(_bounding_box(mask), [[0, 4], [1, 6], [4, 6]])
    np.testing.assert_array_equal(_bounding_box(mask, margin=0), [[0, 3], [2, 5], [5, 6]])


def test_head_shell_layers_lie_at_their_distances_from_the_brain():
    mask = np.zeros((60, 9, 9), bool)
    mask[:20] = True                      # the brain fills the first 20 slices; 1 voxel = 1 mm
    t1 = np.where(mask, 0.8, 0.0).astype(np.float32)
    profile = _with_head_shell(t1, mask)[:, 4, 4]
    assert np.all(profile[:20] == np.float32(0.8))      # the brain is untouched
    distance = np.arange(60) - 19                        # mm from the brain, outside it
    fat = profile[(distance >= 10) & (distance <= 13)]
    assert fat.max() >= 1.0                              # subcutaneous fat, 9.5-13 mm: brighter than white matter
    assert profile[(distance == 5) | (distance == 6)].max() > 2 * profile[distance == 3][0]   # diploe over CSF
    assert np.all(profile[distance >= 17] < 0.02)         # air beyond the skin (14.5 mm, smoothed)


def test_ventricle_centres_are_one_point_per_hemisphere_and_slab():
    rng = np.random.default_rng(0)
    left = np.stack([rng.uniform(-20, -5, 400), rng.uniform(-40, 20, 400), rng.uniform(5, 25, 400)])
    right = left * np.array([[-1.0], [1.0], [1.0]])
    points = np.concatenate([left, right], axis=1).astype(np.float32)
    centres = _ventricle_centres(points)
    half = len(centres) // 2
    assert len(centres) % 2 == 0 and np.all(centres[:half, 0] < 0) and np.all(centres[half:, 0] > 0)
    assert np.all(np.diff(centres[:half, 1]) > 0)        # slabs ordered front to back along y
    assert all(any(np.array_equal(c, p) for p in points.T) for c in centres)   # each is one of the points


def test_world_coordinates_follow_the_affine():
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = [-4.0, -6.0, 0.0]
    empty = np.zeros((3, 4, 2), np.float32)
    atlas = TemplateAtlas(empty, empty, empty, empty.astype(bool), affine, np.zeros((3, 2), int), np.zeros((3, 2), int),
                          np.zeros((0, 3)), 0.3)
    xyz = atlas.world_coordinates()
    assert xyz.shape == (3, 3, 4, 2)
    np.testing.assert_array_equal(xyz[:, 2, 3, 1], [0.0, 0.0, 2.0])
    with pytest.raises(AttributeError):
        atlas.affine = np.eye(4)   # frozen
