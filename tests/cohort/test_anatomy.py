"""medaug.cohort.anatomy: a subject's atrophy, head size and smooth deformation, and the backward map."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from medaug.cohort.anatomy import atrophy_amounts, backward_map, draw_anatomy, smooth_displacement
from medaug.cohort.atlas import MTL_REGIONS
from medaug.cohort.config import AnatomyConfig, CohortConfig

# TemplateAtlas.ventricle_centres_mm of nilearn's template (load_template_atlas takes ~10 s: not loaded here)
ATLAS_VENTRICLE_CENTRES_MM = np.array([[-16.0, -37.0, 12.0], [-12.0, -21.0, 21.0], [-7.0, -2.0, 18.0],
                                       [-4.0, 12.0, 10.0], [16.0, -37.0, 12.0], [12.0, -21.0, 21.0],
                                       [7.0, -2.0, 18.0], [4.0, 12.0, 10.0]])


def test_atrophy_amounts_by_hand_and_their_caps():
    config = AnatomyConfig()   # 0.04 / decade grey matter, 0.06 / decade ventricles over 60 years; AD 0.04, 0.6, 0.3, 0.25
    assert atrophy_amounts(80.0, 0.5, config) == pytest.approx(
        {"gm_loss": 0.08 + 0.02, "mtl_loss": 0.3, "mtl_shrink": 0.15, "ventricle_growth": 0.12 + 0.125})
    assert atrophy_amounts(50.0, 0.0, config) == {"gm_loss": 0.0, "mtl_loss": 0.0, "mtl_shrink": 0.0,
                                                  "ventricle_growth": 0.0}   # no ageing below the reference age
    assert atrophy_amounts(95.0, 10.0, config) == pytest.approx(
        {"gm_loss": 0.54, "mtl_loss": 0.9, "mtl_shrink": 0.6, "ventricle_growth": 0.35})


def test_draw_anatomy_is_seeded_and_sized_by_sex():
    config = AnatomyConfig()
    first = draw_anatomy(np.random.default_rng(3), "F", 70.0, 1.0, config)
    again = draw_anatomy(np.random.default_rng(3), "F", 70.0, 1.0, config)
    assert np.array_equal(first.head_scale, again.head_scale)
    assert np.array_equal(first.displacement_coefficients, again.displacement_coefficients)
    assert first.mtl_loss == atrophy_amounts(70.0, 1.0, config)["mtl_loss"]
    assert first.displacement_coefficients.shape == (3, 3, 3, 3) and first.wavelength_mm == 90.0
    rng = np.random.default_rng(0)
    scales = {sex: np.mean([draw_anatomy(rng, sex, 70.0, 0.0, config).head_scale.mean() for _ in range(200)])
              for sex in ("M", "F")}
    assert scales["M"] == pytest.approx(1.04, abs=0.01) and scales["F"] == pytest.approx(0.96, abs=0.01)


def test_smooth_displacement_has_the_configured_rms_amplitude():
    config = AnatomyConfig(deformation_mm=2.0)
    rng = np.random.default_rng(1)
    points = rng.uniform(-80, 80, size=(3, 2000)).astype(np.float32)
    squares = [np.mean(smooth_displacement(points, draw_anatomy(rng, "F", 60.0, 0.0, config)) ** 2) for _ in range(60)]
    assert np.sqrt(np.mean(squares)) == pytest.approx(2.0, rel=0.15)


def _still(anatomy):
    return dataclasses.replace(anatomy, displacement_coefficients=np.zeros_like(anatomy.displacement_coefficients))


def test_without_deformation_or_atrophy_the_map_is_the_identity():
    anatomy = _still(draw_anatomy(np.random.default_rng(0), "F", 50.0, 0.0, AnatomyConfig()))
    points = np.random.default_rng(1).uniform(-60, 60, size=(3, 50)).astype(np.float32)
    np.testing.assert_array_equal(backward_map(points, anatomy, ATLAS_VENTRICLE_CENTRES_MM), points)


def test_shrunk_hippocampi_and_grown_ventricles_map_outward_and_inward():
    base = _still(draw_anatomy(np.random.default_rng(0), "F", 50.0, 0.0, AnatomyConfig()))
    centre = np.array(MTL_REGIONS["hippocampus"][0], dtype=np.float32)
    near_hippocampus = (centre + [0.0, 4.0, 0.0])[:, None].astype(np.float32)
    shrunk = dataclasses.replace(base, mtl_shrink=0.3)
    moved = backward_map(near_hippocampus, shrunk, ATLAS_VENTRICLE_CENTRES_MM)[:, 0]
    # a subject point 4 mm from the hippocampus centre comes from further out in the template
    assert np.linalg.norm(moved - centre) > 4.0 * 1.25
    ventricle = ATLAS_VENTRICLE_CENTRES_MM[0].astype(np.float32)
    near_ventricle = (ventricle + [3.0, 0.0, 0.0])[:, None].astype(np.float32)
    grown = dataclasses.replace(base, ventricle_growth=0.3)
    assert np.linalg.norm(backward_map(near_ventricle, grown, ATLAS_VENTRICLE_CENTRES_MM)[:, 0] - ventricle) < 3.0


def test_backward_map_is_fold_free_at_the_largest_atrophy(tiny_cohort_params):
    centres = ATLAS_VENTRICLE_CENTRES_MM
    config = CohortConfig.from_dict(tiny_cohort_params)
    anatomy = draw_anatomy(np.random.default_rng(1), "M", 95.0, 10.0, config.anatomy)  # amounts clipped at max
    assert anatomy.ventricle_growth == pytest.approx(0.35) and anatomy.mtl_shrink == pytest.approx(0.6)
    axes = [np.arange(-60, 61, 3.0), np.arange(-80, 41, 3.0), np.arange(-40, 41, 3.0)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij")).reshape(3, -1).astype(np.float32)
    h = 0.5
    jac = np.empty((3, 3, grid.shape[1]))
    for axis in range(3):
        step = np.zeros((3, 1), dtype=np.float32)
        step[axis] = h
        jac[:, axis] = (backward_map(grid + step, anatomy, centres) - backward_map(grid - step, anatomy, centres)) / (2 * h)
    det = np.linalg.det(np.moveaxis(jac, -1, 0))
    assert det.min() > 0.05
