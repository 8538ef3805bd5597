"""medaug.slices: the three views through a point given in mm."""

from __future__ import annotations

import numpy as np

from medaug.slices import SLICE_MM, orthogonal_slices


def test_slices_go_through_the_voxel_of_the_point_on_a_shifted_2mm_grid():
    volume = np.arange(10 * 12 * 14, dtype=np.float32).reshape(10, 12, 14)
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = [-10.0, -12.0, -14.0]  # voxel (i, j, k) sits at (2i - 10, 2j - 12, 2k - 14) mm
    axial, coronal, sagittal = orthogonal_slices(volume, affine, point_mm=(0.0, 2.0, -4.0))  # y, z, x
    i, j, k = 3, 6, 8  # x = -4, y = 0, z = 2 mm
    np.testing.assert_array_equal(axial, volume[:, :, k].T)
    np.testing.assert_array_equal(coronal, volume[:, j, :].T)
    np.testing.assert_array_equal(sagittal, volume[i, :, :].T)


def test_a_point_outside_the_grid_takes_the_nearest_edge_slice():
    volume = np.random.default_rng(0).random((6, 7, 8)).astype(np.float32)
    axial, coronal, sagittal = orthogonal_slices(volume, np.eye(4), point_mm=(100.0, -100.0, 3.0))
    np.testing.assert_array_equal(axial, volume[:, :, 0].T)
    np.testing.assert_array_equal(coronal, volume[:, 6, :].T)
    np.testing.assert_array_equal(sagittal, volume[3, :, :].T)
    assert len(SLICE_MM) == 3
