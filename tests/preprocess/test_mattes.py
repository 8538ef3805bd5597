"""The numpy Mattes mutual information gives ITK's value (``ants.image_similarity``, dense sampling)."""

from __future__ import annotations

import numpy as np
import pytest

from medaug.preprocess.mattes import SCORE_HISTOGRAM_BINS, cubic_bspline, mattes_mutual_information
from medaug.preprocess.t1_linear import (
    T1LinearConfig, _resample_isotropic, _targets, nifti_to_ants, registration_score, rotation_about, write_affine,
)
from tests.preprocess._fixtures import synthetic_t1w


def test_the_cubic_bspline_is_a_partition_of_unity():
    u = np.linspace(0.0, 1.0, 11)
    total = sum(cubic_bspline(u - k) for k in range(-1, 3))
    np.testing.assert_allclose(total, 1.0, atol=1e-12)
    assert cubic_bspline(np.array([2.0, -2.5]))[0] == 0.0 and cubic_bspline(np.array([0.0]))[0] == pytest.approx(2 / 3)


def test_a_constant_sample_carries_no_information():
    assert mattes_mutual_information(np.arange(10.0), np.ones(10)) == 0.0


@pytest.mark.parametrize("angles", [(0.0, 0.0, 0.0), (8.0, 0.0, 0.0), (0.0, -12.0, 5.0)])
def test_registration_score_matches_itk_dense_mattes(tmp_path, angles):
    """On the 4 mm registration grid of a generated head, for a near and two turned poses: the numpy
    value equals ITK's (``sampling_strategy="none"``, ITK's default 50 bins) to float32 precision."""
    import ants

    image, world_from_mni = synthetic_t1w(seed=3, voxel_mm=2.0)
    config = T1LinearConfig(registration_spacing_mm=4.0, mask_dilation_mm=4.0)
    targets = _targets(config)
    fixed, mask = targets.registration_fixed, targets.registration_mask
    moving = _resample_isotropic(nifti_to_ants(image), 4.0)
    transform = write_affine(world_from_mni @ rotation_about(np.zeros(3), *angles), tmp_path / "pose.mat")
    warped = ants.apply_transforms(fixed=fixed, moving=moving, transformlist=[str(transform)], interpolator="linear")
    itk = -ants.image_similarity(fixed, warped, metric_type="MattesMutualInformation", fixed_mask=mask,
                                 sampling_strategy="none")
    assert registration_score(fixed, moving, mask, transform) == pytest.approx(itk, rel=1e-5, abs=1e-6)
    inside = mask.numpy() > 0
    other_bins = mattes_mutual_information(fixed.numpy()[inside], warped.numpy()[inside], SCORE_HISTOGRAM_BINS - 18)
    assert other_bins != pytest.approx(itk, rel=1e-3)  # the bin count matters: ITK's default is 50
