"""medaug.cohort.acquisition: the native grid, the head pose, the bias field and Rician noise."""

from __future__ import annotations

import math

import numpy as np
import pytest

from medaug.cohort.acquisition import (
    BIAS_LENGTH_MM,
    bias_field,
    draw_pose,
    native_grid,
    orientation_axes,
    rician_noise,
    rotation_matrix,
    voxel_world_coordinates,
)
from medaug.cohort.config import AcquisitionConfig, SiteConfig


def test_rotation_matrix_turns_x_then_y_then_z():
    quarter = math.pi / 2
    np.testing.assert_allclose(rotation_matrix(np.array([0.0, 0.0, quarter])) @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(rotation_matrix(np.array([quarter, 0.0, 0.0])) @ [0, 1, 0], [0, 0, 1], atol=1e-12)
    # x first, then z: y -> z (about x), and z stays z (about z)
    np.testing.assert_allclose(rotation_matrix(np.array([quarter, 0.0, quarter])) @ [0, 1, 0], [0, 0, 1], atol=1e-12)
    r = rotation_matrix(np.array([0.1, -0.2, 0.3]))
    np.testing.assert_allclose(r.T @ r, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)


def test_draw_pose_is_rigid_and_within_its_bounds():
    config = AcquisitionConfig(rotation_deg=5.0, translation_mm=3.0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        pose = draw_pose(rng, config)
        np.testing.assert_allclose(pose[:3, :3].T @ pose[:3, :3], np.eye(3), atol=1e-12)
        assert np.all(np.abs(pose[:3, 3]) <= 3.0) and np.array_equal(pose[3], [0, 0, 0, 1])
        angle = math.degrees(math.acos((np.trace(pose[:3, :3]) - 1) / 2))
        assert angle <= 5.0 * math.sqrt(3) + 1e-9


@pytest.mark.parametrize(("code", "expected"), [
    ("RAS", [[1, 0, 0], [0, 2, 0], [0, 0, 3]]),
    ("LAS", [[-1, 0, 0], [0, 2, 0], [0, 0, 3]]),
    ("PSL", [[0, 0, -1], [-2, 0, 0], [0, 3, 0]]),   # voxel axes: posterior, superior, left
])
def test_orientation_axes_put_each_voxel_axis_on_its_world_axis(code, expected):
    np.testing.assert_array_equal(orientation_axes(code, np.array([1.0, 2.0, 3.0])), expected)


def test_native_grid_holds_the_field_of_view_in_the_site_orientation():
    config = AcquisitionConfig(voxel_size_mm=(2.0, 2.0, 2.0), field_of_view_mm=(100.0, 120.0, 90.0), fov_offset_mm=0.0)
    shape, affine = native_grid(np.random.default_rng(0), config, SiteConfig(orientation="PSL", voxel_aspect=(1.5, 1, 1)))
    assert shape == (60, 45, 34)   # y 120 / 2, z 90 / 2, x ceil(100 / 3)
    centre = affine @ np.array([*((np.array(shape) - 1) / 2), 1.0])
    np.testing.assert_allclose(centre[:3], 0.0, atol=1e-12)   # no offset: centred on the world origin
    neck = AcquisitionConfig(fov_offset_mm=0.0, neck_fov_shift_mm=-30.0)
    shape, affine = native_grid(np.random.default_rng(0), neck, SiteConfig(neck=True))
    assert shape == (120, 128, 150)
    np.testing.assert_allclose(affine @ np.array([*((np.array(shape) - 1) / 2), 1.0]), [0, 0, -30, 1], atol=1e-12)


def test_voxel_world_coordinates_follow_the_affine_in_c_order():
    affine = np.diag([2.0, 3.0, 4.0, 1.0])
    affine[:3, 3] = [10, 20, 30]
    world = voxel_world_coordinates((2, 1, 3), affine)
    assert world.shape == (3, 6) and world.dtype == np.float32
    np.testing.assert_array_equal(world[:, 5], [12, 20, 38])   # voxel (1, 0, 2)


def test_bias_field_by_hand():
    world = np.array([[0.0, BIAS_LENGTH_MM, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, BIAS_LENGTH_MM]])
    assert np.allclose(bias_field(world, np.zeros(9)), 1.0)
    coefficients = np.zeros(9)
    coefficients[0], coefficients[5] = 0.2, -0.1    # x and z^2
    np.testing.assert_allclose(bias_field(world, coefficients), [1.0, math.exp(0.2), math.exp(-0.1)], rtol=1e-6)


def test_rician_noise_background_follows_rayleigh():
    rng = np.random.default_rng(0)
    sigma = 10.0
    background = rician_noise(np.zeros(200_000, dtype=np.float32), sigma, rng)
    assert background.mean() == pytest.approx(sigma * np.sqrt(np.pi / 2), rel=0.01)
    bright = rician_noise(np.full(200_000, 1000.0, dtype=np.float32), sigma, rng)
    assert bright.mean() == pytest.approx(1000.0, rel=0.001) and bright.std() == pytest.approx(sigma, rel=0.02)
