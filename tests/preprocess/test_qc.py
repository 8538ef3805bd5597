"""medaug.preprocess.qc: NCC with the template and the QC montage."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from medaug.preprocess.qc import normalised_cross_correlation, resample_to, save_qc_montage, template_ncc
from medaug.preprocess.template import crop_box, load_template


def test_ncc_is_one_for_affine_intensity_change_and_minus_one_for_negation():
    rng = np.random.default_rng(1)
    image, mask = rng.normal(size=(10, 10, 10)), np.ones((10, 10, 10), bool)
    assert normalised_cross_correlation(3 * image + 7, image, mask) == pytest.approx(1.0)
    assert normalised_cross_correlation(-image, image, mask) == pytest.approx(-1.0)
    assert abs(normalised_cross_correlation(rng.normal(size=image.shape), image, mask)) < 0.1


def test_template_ncc_resamples_the_template_onto_another_grid():
    template = load_template(2)
    box = crop_box(np.asarray(template.brain_mask.dataobj), (80, 100, 88))
    cropped = template.cropped(box)
    assert template_ncc(cropped.image, template.image, template.brain_mask) == pytest.approx(1.0, abs=1e-6)
    shifted = nib.Nifti1Image(np.roll(np.asarray(cropped.image.dataobj), 4, axis=1), cropped.affine)
    assert template_ncc(shifted, template.image, template.brain_mask) < 0.9


def test_qc_montage_is_a_png_with_one_row_per_image(tmp_path):
    mask = np.zeros((12, 14, 10))
    mask[3:9, 3:11, 2:8] = 1
    volumes = [np.random.default_rng(i).uniform(size=mask.shape) for i in range(3)]
    path = tmp_path / "qc.png"
    save_qc_montage(path, volumes, mask, ["a", "b", "c"], [False, True, False], row_height_px=28)
    import matplotlib.image

    picture = matplotlib.image.imread(path)
    assert picture.shape[0] >= 3 * 28 and picture.shape[1] > picture.shape[0] / 3


def test_ncc_is_zero_for_a_constant_image_and_uses_the_mask_only():
    rng = np.random.default_rng(2)
    image = rng.normal(size=(6, 6, 6))
    mask = np.zeros(image.shape, bool)
    mask[1:5, 1:5, 1:5] = True
    assert normalised_cross_correlation(np.full(image.shape, 3.0), image, mask) == 0.0
    other = image.copy()
    other[~mask] = rng.normal(size=int((~mask).sum()))  # differs outside the mask only
    assert normalised_cross_correlation(other, image, mask) == pytest.approx(1.0)


def test_resample_to_the_same_grid_is_the_data_and_a_shifted_grid_reads_shifted_voxels():
    data = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    image = nib.Nifti1Image(data, affine)
    np.testing.assert_array_equal(resample_to(image, data.shape, affine), data)
    shifted = affine.copy()
    shifted[1, 3] = 2.0   # one voxel further along y
    out = resample_to(image, data.shape, shifted, order=0)
    np.testing.assert_array_equal(out[:, :-1], data[:, 1:])
    assert np.all(out[:, -1] == 0.0)   # outside the image
