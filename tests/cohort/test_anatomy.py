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


def _full_radial_backward_map(points, anatomy, centres):
    """The radial maps as first written: every map moves every point (float64)."""
    from medaug.cohort.atlas import HIPPOCAMPUS_SHRINK_SD_MM, VENTRICLE_SD_MM

    out = points.astype(np.float64)
    maps = [(c, VENTRICLE_SD_MM, -anatomy.ventricle_growth) for c in centres]
    hx, hy, hz = MTL_REGIONS["hippocampus"][0]
    maps += [((s * hx, hy, hz), HIPPOCAMPUS_SHRINK_SD_MM, anatomy.mtl_shrink) for s in (-1.0, 1.0)]
    for centre, sd, gain in maps:
        d = out - np.asarray(centre, dtype=np.float64)[:, None]
        weight = np.exp(-0.5 * ((d / np.asarray(sd, dtype=np.float64)[:, None]) ** 2).sum(axis=0))
        out = out + gain * weight * d
    return out


def test_truncated_radial_maps_match_the_full_maps_within_the_stated_bound():
    from medaug.cohort.anatomy import RADIAL_TRUNCATION_ERROR_MM, radial_backward_map, radial_maps

    anatomy = _still(draw_anatomy(np.random.default_rng(2), "M", 95.0, 10.0, AnatomyConfig()))
    assert anatomy.ventricle_growth == pytest.approx(0.35) and anatomy.mtl_shrink == pytest.approx(0.6)
    rng = np.random.default_rng(5)
    # the whole head and, densely, the shells around the cut-off boxes (4 to 6 sds from each centre)
    head = rng.uniform([-90, -130, -80], [90, 90, 100], size=(200_000, 3))
    shells = [np.asarray(c) + rng.choice([-1, 1], (20_000, 3)) * rng.uniform(4, 6, (20_000, 3)) * np.asarray(sd)
              for c, sd, _ in radial_maps(anatomy, ATLAS_VENTRICLE_CENTRES_MM)]
    points = np.concatenate([head, *shells]).T.astype(np.float32)
    fast = radial_backward_map(points.copy(), radial_maps(anatomy, ATLAS_VENTRICLE_CENTRES_MM))
    error = np.abs(fast - _full_radial_backward_map(points, anatomy, ATLAS_VENTRICLE_CENTRES_MM)).max()
    assert error < RADIAL_TRUNCATION_ERROR_MM
    # the map does move points by millimetres: the comparison is not trivial
    assert np.abs(fast - points).max() > 3.0


def test_smooth_displacement_equals_the_triple_cosine_sum_across_chunks():
    from medaug.cohort.anatomy import CHUNK_POINTS, N_COSINES

    anatomy = draw_anatomy(np.random.default_rng(4), "F", 70.0, 0.0, AnatomyConfig())
    points = np.random.default_rng(6).uniform(-100, 100, size=(3, 2 * CHUNK_POINTS + 77)).astype(np.float32)
    freqs = np.arange(1, N_COSINES + 1) * 2 * np.pi / (N_COSINES * anatomy.wavelength_mm)
    phases = anatomy.displacement_phases.astype(np.float64)
    basis = [np.cos(freqs[:, None] * points[axis].astype(np.float64)[None, :] + phases[axis][:, None])
             for axis in range(3)]
    expected = np.einsum("cabk,an,bn,kn->cn", anatomy.displacement_coefficients.astype(np.float64), *basis)
    got = smooth_displacement(points, anatomy)
    assert got.dtype == np.float32 and got.shape == points.shape
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_backward_map_is_the_smooth_then_the_radial_part():
    from medaug.cohort.anatomy import radial_backward_map, radial_maps, smooth_backward_map

    anatomy = draw_anatomy(np.random.default_rng(0), "F", 80.0, 1.0, AnatomyConfig())
    points = np.random.default_rng(1).uniform(-60, 60, size=(3, 5000)).astype(np.float32)
    both = radial_backward_map(smooth_backward_map(points, anatomy), radial_maps(anatomy, ATLAS_VENTRICLE_CENTRES_MM))
    np.testing.assert_array_equal(backward_map(points, anatomy, ATLAS_VENTRICLE_CENTRES_MM), both)
