"""medaug.preprocess.fov: neck removal by the length kept below the top of the head, as FSL's robustfov."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from medaug.preprocess.fov import cranium_centre, crop_neck, head_mask, superior_axis


@pytest.mark.parametrize(("affine", "axis"), [
    (np.diag([1.0, 1.0, 1.0, 1.0]), 2),                                                   # RAS
    (np.array([[0, 0, -1, 0], [-1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]], float), 1),     # PSL
    (np.diag([-1.0, -1.0, -1.2, 1.0]), 2),                                                # LPI
])
def test_superior_axis_follows_the_storage_orientation(affine, axis):
    assert superior_axis(affine) == axis


def _column(superior_first: bool = False) -> nib.Nifti1Image:
    """A 4 mm grid 80 x 80 x 240 mm; a bright body in x, y 20-56 mm over 50 of the 60 axial slices.

    Stored inferior-first (RAS): slices 10-59 bright, the top of the head at z = 4 * 59 + 2 = 238 mm.
    Stored superior-first (RAI): slice i at z = 236 - 4 i, slices 0-49 bright, the same world image.
    """
    data = np.zeros((20, 20, 60), np.float32)
    if superior_first:
        data[5:15, 5:15, 0:50] = 100.0
        affine = np.diag([4.0, 4.0, -4.0, 1.0])
        affine[2, 3] = 236.0
    else:
        data[5:15, 5:15, 10:60] = 100.0
        affine = np.diag([4.0, 4.0, 4.0, 1.0])
    return nib.Nifti1Image(data, affine)


def test_crop_neck_keeps_the_length_below_the_top_of_the_head():
    # keep slices whose top lies at or above 238 - 100 = 138 mm: z = 4 i >= 138, i >= 35
    image = _column()
    cropped, info = crop_neck(image, 100.0)
    assert (info.axis, info.kept, info.head_top_mm, info.removed_mm) == (2, (35, 60), 238.0, 140.0)
    assert cropped.shape == (20, 20, 25)
    np.testing.assert_array_equal(np.asarray(cropped.dataobj), np.asarray(image.dataobj)[:, :, 35:])
    np.testing.assert_allclose(cropped.affine[:3, 3], [0.0, 0.0, 140.0])  # same world position of each voxel


def test_crop_neck_of_a_superior_first_grid_drops_the_last_slices():
    # z = 236 - 4 i >= 138: i <= 24
    image = _column(superior_first=True)
    cropped, info = crop_neck(image, 100.0)
    assert (info.kept, info.head_top_mm, info.removed_mm) == ((0, 25), 238.0, 140.0)
    np.testing.assert_array_equal(cropped.affine, image.affine)
    np.testing.assert_array_equal(np.asarray(cropped.dataobj), np.asarray(image.dataobj)[:, :, :25])


def test_crop_neck_leaves_a_short_or_empty_image_alone():
    image = _column()
    same, info = crop_neck(image, 300.0)
    assert same is image and info.kept == (0, 60) and info.removed_mm == 0.0 and info.head_top_mm == 238.0
    empty = nib.Nifti1Image(np.zeros((10, 10, 10), np.float32), np.eye(4))
    same, info = crop_neck(empty, 50.0)
    assert same is empty and info.removed_mm == 0.0 and np.isnan(info.head_top_mm)


def test_head_mask_keeps_large_components_and_drops_specks():
    data = np.zeros((30, 30, 30), np.float32)
    data[2:12, 2:12, 2:12] = 100.0     # the head: 1000 voxels
    data[18:28, 18:28, 20:25] = 100.0  # the shoulders, apart from it: 500 voxels
    data[25, 2, 2] = 100.0             # a noise speck
    mask = head_mask(data, (1, 1, 1), 0.2)
    assert mask.sum() == 1500 and not mask[25, 2, 2]
    coarse = head_mask(data, (2, 2, 2), 0.2)
    assert coarse.shape == (15, 15, 15) and coarse[3, 3, 3]


def test_cranium_centre_is_the_centroid_of_the_top_cap_of_the_head():
    image = _column()
    # within 20 mm of the highest mask voxel (z = 236): slices 54-59, x and y voxels 5-14
    centre = cranium_centre(np.asarray(image.dataobj), image.affine, 20.0, 0.2)
    np.testing.assert_allclose(centre, [4 * 9.5, 4 * 9.5, 4 * 56.5])
    with pytest.raises(ValueError, match="no head found"):
        cranium_centre(np.zeros((8, 8, 8), np.float32), np.eye(4), 20.0, 0.2)
