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


def test_body_evaluated_below_its_top_only_equals_the_body_everywhere():
    points = np.random.default_rng(0).uniform([-200, -150, -220], [200, 150, 120], size=(200_000, 3)).T
    full = body._body_intensity(points.astype(np.float32))
    np.testing.assert_array_equal(body_intensity(points), full)
    assert (full[points[2] >= body.BODY_TOP_MM] == 0).all() and (full > 0).mean() > 0.1
