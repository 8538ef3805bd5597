"""medaug.cohort.body: neck, face and shoulders below the synthetic head, and the defacing plane."""

from __future__ import annotations

import math

import numpy as np
import pytest

from medaug.cohort import body
from medaug.cohort.atlas import HEAD_SHELL_LAYERS
from medaug.cohort.body import body_intensity, face_plane, face_plane_normal


def _at(*points) -> np.ndarray:
    return body_intensity(np.asarray(points, dtype=np.float32).T)


def test_head_shell_and_body_have_t1_contrast_fat_bright_bone_dark():
    values = dict(zip(("csf", "inner_table", "diploe", "outer_table", "muscle", "fat", "skin"),
                      (v for _, v in HEAD_SHELL_LAYERS)))
    assert values["fat"] >= 1.0 and body.FAT >= 1.0           # fat as bright as white matter (1.0) or brighter
    assert values["inner_table"] < 0.1 and values["outer_table"] < 0.1 < values["csf"]  # cortical bone darkest
    assert values["muscle"] == pytest.approx(body.MUSCLE) and values["muscle"] < values["diploe"] < values["fat"]


def test_the_neck_has_skin_fat_muscle_marrow_and_a_cord_below_the_skull_base():
    # template mm: x right, y anterior, z superior; the neck is an ellipse (50, 55) mm around (0, -15)
    skin = (0.0, -15.0 + 55.0 - 2.0, -100.0)     # 2 mm inside the surface at the front
    muscle = (30.0, -15.0, -100.0)
    vertebra, cord, airway = (0.0, -25.0, -100.0), (0.0, -42.0, -100.0), (0.0, 15.0, -100.0)
    assert list(_at(skin, muscle, vertebra, cord, airway)) == [body.FAT, body.MUSCLE, body.MARROW, body.CORD, body.AIR]
    canal = (0.0, -42.0 + 5.5, -100.0)           # between the cord (4 mm) and the canal wall (7 mm)
    assert _at(canal)[0] == body.CSF


def test_air_around_the_neck_above_its_top_and_wide_shoulders_below():
    beside_neck = (70.0, -15.0, -100.0)
    above_top = (30.0, -15.0, body.NECK_TOP_MM + 5.0)
    assert list(_at(beside_neck, above_top)) == [0.0, 0.0]
    shoulder = (150.0, -15.0, body.SHOULDER_START_MM - body.SHOULDER_RAMP_MM - 10.0)   # within the full 180 mm
    assert _at(shoulder)[0] == body.MUSCLE


def test_the_face_has_dark_eyes_in_bright_orbital_fat_and_an_air_filled_nose():
    eye = np.asarray(body.EYE_CENTRES_MM[0])
    orbit = eye + [0.0, 0.0, body.EYE_RADIUS_MM + 2.0]
    assert list(_at(eye, orbit, body.NASAL_CENTRE_MM)) == [body.VITREOUS, body.FAT, body.AIR]


def test_face_plane_normal_points_forward_and_down():
    np.testing.assert_allclose(face_plane_normal(0.0), [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(face_plane_normal(45.0), [0, math.sqrt(0.5), -math.sqrt(0.5)], atol=1e-12)


def test_face_plane_passes_the_margin_beyond_the_brain():
    brain = np.array([[0.0, 0.0], [0.0, 60.0], [0.0, 10.0]])    # furthest forward point: y = 60
    points = np.array([[0.0, 0.0, 0.0], [64.9, 65.1, 80.0], [0.0, 0.0, 0.0]])
    assert face_plane(points, brain, 0.0, 5.0).tolist() == [False, True, True]
    # tilted 90 degrees: the plane lies 5 mm below the lowest brain point (z = 0)
    below = np.array([[0.0, 0.0], [0.0, 0.0], [-4.9, -5.1]])
    assert face_plane(below, brain, 90.0, 5.0).tolist() == [False, True]
    assert not face_plane(brain, brain, 30.0, 0.0).any()   # the brain is never cut


def _body_everywhere(points: np.ndarray) -> np.ndarray:
    """The body as first written: every feature evaluated at every point (the reference of the
    restricted evaluation in :func:`body.body_intensity`)."""
    b = body
    x, y, z = (np.asarray(points, dtype=np.float32)[i] for i in range(3))
    out = np.zeros(x.shape, dtype=np.float32)
    ramp = np.clip((b.SHOULDER_START_MM - z) / b.SHOULDER_RAMP_MM, 0.0, 1.0)
    rx = b.NECK_RADII_MM[0] + ramp * (b.SHOULDER_HALF_WIDTH_MM - b.NECK_RADII_MM[0])
    ry = b.NECK_RADII_MM[1] + ramp * (b.SHOULDER_DEPTH_MM - b.NECK_RADII_MM[1])
    neck_depth = b._ellipse_depth(x - b.NECK_CENTRE_MM[0], y - b.NECK_CENTRE_MM[1], rx, ry)
    neck = (neck_depth > 0) & (z < b.NECK_TOP_MM)
    out[neck] = np.where(neck_depth[neck] < b.SKIN_MM, b.FAT, b.MUSCLE)
    column = neck & (z < -60.0)
    out[column & ((x ** 2 + (y + 25.0) ** 2) < 10.0 ** 2)] = b.MARROW
    out[column & ((x ** 2 + (y + 42.0) ** 2) < 7.0 ** 2)] = b.CSF
    out[column & ((x ** 2 + (y + 42.0) ** 2) < 4.0 ** 2)] = b.CORD
    out[column & ((x ** 2 + (y - 15.0) ** 2) < 8.0 ** 2) & (z > -170.0)] = b.AIR
    f = [(c - m) / r for c, m, r in zip((x, y, z), b.FACE_CENTRE_MM, b.FACE_RADII_MM)]
    face_depth = (1.0 - np.sqrt(f[0] ** 2 + f[1] ** 2 + f[2] ** 2)) * min(b.FACE_RADII_MM)
    face = (face_depth > 0) & (y > 0.0)
    out[face] = np.where(face_depth[face] < b.SKIN_MM, b.FAT, np.maximum(out[face], b.MUSCLE))
    for centre in b.EYE_CENTRES_MM:
        r = np.sqrt((x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2)
        out[r < b.EYE_RADIUS_MM + b.ORBIT_FAT_MM] = b.FAT
        out[r < b.EYE_RADIUS_MM] = b.VITREOUS
    n = [(c - m) / r for c, m, r in zip((x, y, z), b.NASAL_CENTRE_MM, b.NASAL_RADII_MM)]
    out[n[0] ** 2 + n[1] ** 2 + n[2] ** 2 < 1.0] = b.AIR
    return out


def test_body_evaluated_on_restricted_points_equals_the_body_everywhere():
    rng = np.random.default_rng(0)
    everywhere = rng.uniform([-200, -150, -220], [200, 150, 120], size=(200_000, 3))
    face = rng.uniform([-70, -10, -120], [70, 100, 10], size=(200_000, 3))  # dense around the face
    points = np.concatenate([everywhere, face]).T
    expected = _body_everywhere(points)
    np.testing.assert_array_equal(body_intensity(points), expected)
    assert (expected[points[2] >= body.BODY_TOP_MM] == 0).all()
    features = np.float32([body.MARROW, body.CORD, body.VITREOUS, body.AIR, body.FAT])
    assert np.isin(features, expected).all()  # the comparison covers every feature
