"""medaug.cohort.align: a native image resampled into MNI space with its known pose."""

from __future__ import annotations

import numpy as np
import pytest

from medaug.cohort.align import MNI_BRAIN_BOX_MM, resample_to_template, template_grid


def test_template_grid_covers_the_brain_box():
    shape, affine = template_grid(2.0)
    assert shape == (73, 91, 78)   # floor(144 / 2) + 1, floor(180 / 2) + 1, floor(154 / 2) + 1
    np.testing.assert_array_equal(affine, [[2, 0, 0, -72], [0, 2, 0, -107], [0, 0, 2, -72], [0, 0, 0, 1]])
    last = affine @ np.array([*(np.array(shape) - 1), 1.0])
    np.testing.assert_array_equal(last[:3], [hi for _, hi in MNI_BRAIN_BOX_MM])
    assert template_grid(3.0, ((0.0, 10.0),) * 3)[0] == (4, 4, 4)


def _native_on_the_template_grid(voxel_mm=4.0):
    shape, affine = template_grid(voxel_mm)
    data = np.random.default_rng(0).uniform(size=shape).astype(np.float32)
    return data, affine


def test_the_identity_pose_on_the_template_grid_gives_the_image_back():
    data, affine = _native_on_the_template_grid()
    out, out_affine = resample_to_template(data, affine, np.eye(4), voxel_size_mm=4.0)
    np.testing.assert_allclose(out, data, atol=1e-6)
    np.testing.assert_array_equal(out_affine, affine)
    assert out.dtype == np.float32


def test_a_known_shift_and_flip_are_undone():
    data, affine = _native_on_the_template_grid()
    # the head sits 8 mm (two voxels) further along world x, and the image is stored x-flipped (LAS)
    world_from_mni = np.eye(4)
    world_from_mni[0, 3] = 8.0
    flipped = affine.copy()
    flipped[0, 0] = -4.0
    flipped[0, 3] = affine[0, 3] + 4.0 * (data.shape[0] - 1) + 8.0
    native = data[::-1]
    out, _ = resample_to_template(native, flipped, world_from_mni, voxel_size_mm=4.0, order=0)
    np.testing.assert_allclose(out, data, atol=1e-6)


def test_outside_the_native_field_of_view_is_zero():
    data, affine = _native_on_the_template_grid()
    world_from_mni = np.eye(4)
    world_from_mni[2, 3] = 400.0   # the brain box maps far above the image
    out, _ = resample_to_template(data, affine, world_from_mni, voxel_size_mm=4.0)
    assert np.all(out == 0.0)
    with pytest.raises(np.linalg.LinAlgError):
        resample_to_template(data, np.zeros((4, 4)), np.eye(4), voxel_size_mm=4.0)
