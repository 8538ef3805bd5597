"""t1-linear on synthetic whole-head images with a known pose: affine only, and accurate.

Fast tests use a coarse set-up (2 mm template grid, 4 mm images, 4 mm registration); the slow test
runs the demo parameters on 1 mm-template outputs of 2 mm images.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import ndimage

from tests.preprocess._fixtures import synthetic_t1w
from medaug.preprocess import t1_linear as t1
from medaug.preprocess.qc import normalised_cross_correlation
from medaug.preprocess.t1_linear import (
    RegistrationError, T1LinearConfig, cropped_template, native_from_template, scratch_directory,
)

COARSE = T1LinearConfig(
    template_resolution_mm=2, crop_shape=(85, 104, 90), n4_shrink_factor=2, n4_iterations=(20, 20),
    n4_tolerance=1e-3, registration_spacing_mm=4.0, shrink_factors=(2, 1), smoothing_sigmas_mm=(4.0, 2.0),
    iterations=(60, 30), sampling_rate=0.3, mask_dilation_mm=8.0,
)
DEMO = T1LinearConfig(
    n4_iterations=(20, 20), n4_tolerance=1e-3, registration_spacing_mm=3.0, shrink_factors=(4, 2, 1),
    smoothing_sigmas_mm=(6.0, 3.0, 1.5), iterations=(60, 30, 10), sampling_rate=0.15,
)


def _ground_truth_ncc(image, world_from_mni, result, config) -> tuple[float, float]:
    """(NCC inside the brain mask between the native image resampled with the true and the estimated
    pose, mean distance in mm between the two poses over brain-mask points)."""
    template = cropped_template(config)
    mask = np.asarray(template.brain_mask.dataobj) > 0
    estimated = native_from_template(result.transform_file)
    native = np.asarray(image.dataobj, dtype=np.float32)
    grid = np.indices(mask.shape, dtype=np.float32).reshape(3, -1)

    def resample(native_from_mni):
        voxel_map = np.linalg.inv(image.affine) @ native_from_mni @ template.affine
        coords = voxel_map[:3, :3] @ grid + voxel_map[:3, 3:4]
        return ndimage.map_coordinates(native, coords, order=1).reshape(mask.shape)

    points = template.affine[:3, :3] @ np.argwhere(mask)[::200].T + template.affine[:3, 3:4]
    distance = np.linalg.norm((world_from_mni - estimated)[:3, :3] @ points + (world_from_mni - estimated)[:3, 3:4], axis=0)
    return normalised_cross_correlation(resample(world_from_mni), resample(estimated), mask), float(distance.mean())


@pytest.mark.parametrize(("seed", "flip_x"), [(11, False), (12, True)])
def test_coarse_t1_linear_recovers_the_known_pose(seed, flip_x):
    image, world_from_mni = synthetic_t1w(seed, voxel_mm=4.0, flip_x=flip_x)
    with scratch_directory() as workdir:
        result = t1.t1_linear(image, COARSE, workdir)
        ncc, distance_mm = _ground_truth_ncc(image, world_from_mni, result, COARSE)
    assert result.cropped.shape == (85, 104, 90)
    assert np.allclose(result.cropped.affine, cropped_template(COARSE).affine)
    assert ncc >= 0.95, ncc
    assert distance_mm < 2.0, distance_mm


def test_register_affine_refuses_anything_but_one_affine(monkeypatch, tmp_path):
    import ants

    def fake_registration(**kwargs):
        return {"fwdtransforms": [str(tmp_path / "reg_1Warp.nii.gz"), str(tmp_path / "reg_0GenericAffine.mat")]}

    monkeypatch.setattr(ants, "registration", fake_registration)
    with pytest.raises(RegistrationError, match="single affine"):
        t1.register_affine(None, None, None, COARSE, tmp_path, offset_lps_mm=np.zeros(3))


def test_config_rejects_mismatched_schedule():
    with pytest.raises(ValueError, match="one entry per level"):
        T1LinearConfig(shrink_factors=(4, 2), smoothing_sigmas_mm=(2.0,), iterations=(10, 10))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [21, 22, 23])
def test_demo_parameters_match_ground_truth_at_1mm_template(seed):
    image, world_from_mni = synthetic_t1w(seed, voxel_mm=2.0, flip_x=seed % 2 == 0)
    with scratch_directory() as workdir:
        result = t1.t1_linear(image, DEMO, workdir)
        ncc, distance_mm = _ground_truth_ncc(image, world_from_mni, result, DEMO)
    assert result.cropped.shape == (169, 208, 179)
    assert ncc >= 0.95, ncc
    assert distance_mm < 1.0, distance_mm


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "site"), [(31, "SITE-A"), (32, "SITE-B")])
def test_demo_generator_subjects_match_their_ground_truth(repo_params, seed, site):
    """The demo parameters on subjects of the demo generator itself (scalp shell, bias, noise, LAS storage)."""
    import nibabel as nib

    from medaug.cohort import CohortConfig, render_image
    from medaug.cohort.anatomy import draw_anatomy
    from medaug.cohort.atlas import load_template_atlas

    config = CohortConfig.from_dict(repo_params["cohort"])
    rng = np.random.default_rng(seed)
    anatomy = draw_anatomy(rng, "F" if seed % 2 else "M", 75.0, 1.0, config.anatomy)
    rendered = render_image(load_template_atlas(config.anatomy.head_shell), anatomy, site, config, rng)
    image = nib.Nifti1Image(rendered.data, rendered.affine)
    with scratch_directory() as workdir:
        result = t1.t1_linear(image, DEMO, workdir)
        ncc, distance_mm = _ground_truth_ncc(image, rendered.world_from_mni, result, DEMO)
    assert ncc >= 0.95, ncc
    assert distance_mm < 2.0, distance_mm


def test_retry_starts_are_both_set_or_both_empty():
    assert t1.retry_config(dataclasses.replace(COARSE, retry_start_pitch_deg=(), retry_start_roll_deg=())) is None
    retry = t1.retry_config(COARSE)
    assert retry.start_pitch_deg == COARSE.retry_start_pitch_deg and retry.start_roll_deg == COARSE.retry_start_roll_deg
    with pytest.raises(ValueError, match="retry_start_pitch_deg"):
        dataclasses.replace(COARSE, retry_start_roll_deg=())
