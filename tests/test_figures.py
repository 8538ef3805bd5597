"""medaug.figures: the three views through a point given in mm, and the montages built from them."""

from __future__ import annotations

import numpy as np
import pytest

from medaug.figures import (
    SLICE_MM,
    VIEWS,
    montage_indices,
    orthogonal_slices,
    real_vs_synthetic_montage,
    set_montage,
    slice_rows_montage,
    view_slice,
)


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


def test_montage_indices_are_seeded_distinct_and_capped():
    first = montage_indices(200, 4, seed=3)
    assert len(set(first.tolist())) == 4 and (np.diff(first) > 0).all() and first.max() < 200
    assert first.tolist() == montage_indices(200, 4, seed=3).tolist()
    assert montage_indices(3, 4, 0).tolist() == [0, 1, 2] and len(montage_indices(0, 4, 0)) == 0


def test_view_slice_follows_the_affine_or_the_grid_centre():
    volume = np.random.default_rng(1).random((6, 7, 8)).astype(np.float32)
    for view, expected in zip(VIEWS, orthogonal_slices(volume, np.eye(4), (2.0, 3.0, 1.0))):
        np.testing.assert_array_equal(view_slice(volume, view, np.eye(4), (2.0, 3.0, 1.0)), expected)
    np.testing.assert_array_equal(view_slice(volume, "coronal", None), volume[:, 3, :].T)
    with pytest.raises(ValueError, match="unknown view 'oblique'"):
        view_slice(volume, "oblique", None)


def test_montages_write_pngs_and_refuse_empty_input(tmp_path):
    volumes = np.random.default_rng(2).random((3, 6, 7, 8)).astype(np.float32)
    real_vs_synthetic_montage(list(volumes[:2]), list(volumes[1:]), np.eye(4), tmp_path / "rvs.png", title="t")
    set_montage({"real": volumes, "synthetic": volumes[:2]}, tmp_path / "sets.png", n_shown=2, seed=0)
    slice_rows_montage({"real": volumes[:, :, :, 0], "synthetic": volumes[:2, :, :, 0]}, tmp_path / "rows.png")
    for name in ("rvs", "sets", "rows"):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="no real and no synthetic volume"):
        real_vs_synthetic_montage([], [], np.eye(4), tmp_path / "none.png")
    with pytest.raises(ValueError, match="no set has a volume"):
        set_montage({"real": volumes[:0]}, tmp_path / "none.png", 2, 0)
    with pytest.raises(ValueError, match="one shape"):
        slice_rows_montage({"a": volumes[:, :, :, 0], "b": volumes[:, :, 0, :]}, tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()

