"""medaug.preprocess.head_qc: does the template brain, mapped by the registration, fit the head?"""

from __future__ import annotations

import math

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from medaug.preprocess.head_qc import (
    MIN_KNOWN_RAYS,
    RAY_COUNT,
    head_fit,
    head_fit_reason,
    margin_score,
    template_rays,
    upper_directions,
)
from medaug.preprocess.template import load_template

SCALP_MM = 15.0


@pytest.fixture(scope="module")
def head() -> nib.Nifti1Image:
    """A head made of the 2 mm template brain mask grown by 15 mm, on a grid 30 mm larger on every side."""
    brain = load_template(2).brain_mask
    pad = 15
    mask = np.pad(np.asarray(brain.dataobj) > 0, pad)
    affine = np.asarray(brain.affine, dtype=float).copy()
    affine[:3, 3] -= affine[:3, :3] @ np.full(3, pad)
    grown = ndimage.distance_transform_edt(~mask, sampling=2.0) <= SCALP_MM
    return nib.Nifti1Image(grown.astype(np.float32) * 100.0, affine)


def test_upper_directions_are_unit_vectors_on_the_cap_uniform_in_height():
    directions = upper_directions(200, 20.0)
    np.testing.assert_allclose(np.linalg.norm(directions, axis=1), 1.0)
    elevation = np.rad2deg(np.arcsin(directions[:, 2]))
    assert elevation.min() > 20.0 and elevation.max() < 90.0
    low = math.sin(math.radians(20.0))
    np.testing.assert_allclose(np.diff(directions[:, 2]), (1 - low) / 200)   # equal area steps
    assert abs(directions[:, 0].mean()) < 0.05 and abs(directions[:, 1].mean()) < 0.05  # all around


def test_margin_score_by_hand():
    margins = np.array([10.0, 12.0, 14.0, 40.0])  # 40: outside (2, 30) and 28 mm from the median 13
    fit = margin_score(margins, ray_count=4)
    assert (fit.in_range, fit.consistent, fit.score) == (0.75, 0.75, 0.75)
    assert fit.median_margin_mm == 13.0 and fit.known_rays == 4
    shifted = margin_score(np.array([3.0, 5.0, 25.0, 28.0]), ray_count=4)  # all in range, spread out
    assert shifted.in_range == 1.0 and shifted.consistent == 0.5 and shifted.score == 0.5


def test_too_few_known_rays_give_no_score():
    known = int(MIN_KNOWN_RAYS * RAY_COUNT)
    assert math.isnan(margin_score(np.full(known - 1, 15.0)).score)
    assert margin_score(np.full(known, 15.0)).score == 1.0
    empty = margin_score(np.array([]))
    assert math.isnan(empty.median_margin_mm) and empty.known_rays == 0


@pytest.mark.parametrize(("margin", "what"), [(45.0, "brain mapped too small or too low"),
                                              (1.0, "brain mapped too large or too high"),
                                              (15.0, "brain mapped off-centre in the head")])
def test_head_fit_reason_says_which_way_the_brain_is_off(margin, what):
    assert head_fit_reason(0.4, margin) == f"head fit 0.40 < 0.75 ({what}; median scalp margin {margin:.0f} mm)"


def test_head_fit_reason_passes_a_good_or_unscored_image():
    assert head_fit_reason(0.75, 50.0) == "" and head_fit_reason(float("nan"), 50.0) == ""
    assert head_fit_reason(0.8, 15.0, min_score=0.9).startswith("head fit 0.80 < 0.9")


def test_the_true_pose_fits_a_head_with_a_15_mm_scalp(head):
    fit = head_fit(head, np.eye(4), resolution_mm=2)
    assert fit.score == 1.0 and fit.known_rays == RAY_COUNT
    assert abs(fit.median_margin_mm - SCALP_MM) <= 2.0   # 1 mm samples on a 2 mm grid


def test_a_brain_mapped_too_small_or_sideways_fails(head):
    centre = template_rays(2)[0]
    small = np.eye(4)
    small[:3, :3] *= 0.75
    small[:3, 3] = centre - 0.75 * centre
    fit = head_fit(head, small, resolution_mm=2)
    assert fit.score < 0.1 and fit.median_margin_mm > 30
    assert "too small" in head_fit_reason(fit.score, fit.median_margin_mm)
    sideways = np.eye(4)
    sideways[0, 3] = 20.0
    assert head_fit(head, sideways, resolution_mm=2).score < 0.75


def test_a_head_without_scalp_above_the_brain_fails():
    brain = load_template(2).brain_mask   # the brain mask alone as the head
    fit = head_fit(nib.Nifti1Image((np.asarray(brain.dataobj) > 0).astype(np.float32), brain.affine), np.eye(4),
                   resolution_mm=2)
    assert fit.median_margin_mm < 2.0 and fit.score < 0.75
