"""medaug.audit.checks: the acceptance checks at and beyond their thresholds."""

from __future__ import annotations

import pytest

from medaug.audit import acceptance_checks
from tests.audit._shared import CRITERIA


def test_checks_pass_at_the_thresholds_and_fail_just_beyond():
    at = acceptance_checks(0.88, 0.80, 0.5, 0.3, 0, 0.15, CRITERIA)   # limit 1 - 0.6 x (1 - 0.80)
    assert at["ms_ssim_limit"] == pytest.approx(0.88) and at["ms_ssim_real_held_out"] == 0.80
    assert at["diversity_ok"] and at["fidelity_ok"] and at["memorisation_ok"] and at["passed"]
    assert at["near_copies_ok"] and at["reconstruction_test_ok"] and at["share_closer_limit"] == 0.15
    assert acceptance_checks(0.8801, 0.80, 0.5, 0.3, 0, 0.0, CRITERIA)["diversity_ok"] is False
    assert acceptance_checks(0.7, 0.80, 0.49, 0.9, 0, 0.0, CRITERIA)["fidelity_ok"] is False
    assert acceptance_checks(0.7, 0.80, 0.9, 0.29, 0, 0.0, CRITERIA)["fidelity_ok"] is False
    beyond = acceptance_checks(0.7, 0.80, 0.9, 0.9, 1, 0.0, CRITERIA)
    assert beyond["memorisation_ok"] is False and beyond["near_copies_ok"] is False
    assert beyond["diversity_ok"] is True and beyond["passed"] is False
    blurred = acceptance_checks(0.7, 0.80, 0.9, 0.9, 0, 0.1501, CRITERIA)   # no near-copy, but too close
    assert blurred["near_copies_ok"] is True and blurred["reconstruction_test_ok"] is False
    assert blurred["memorisation_ok"] is False and blurred["passed"] is False
    collapsed = acceptance_checks(1.0, 0.93, 0.65, 0.0, 0, 0.0, CRITERIA)
    assert (collapsed["diversity_ok"], collapsed["fidelity_ok"], collapsed["passed"]) == (False, False, False)


def test_checks_are_unknown_without_a_value_and_need_every_criterion():
    unknown = acceptance_checks(None, 0.8, float("nan"), 0.5, None, None, CRITERIA)
    assert unknown["diversity_ok"] is None and unknown["fidelity_ok"] is None and unknown["memorisation_ok"] is None
    assert unknown["passed"] is False and unknown["ms_ssim_limit"] == pytest.approx(0.88)
    assert acceptance_checks(0.9, None, 0.6, 0.5, 0, 0.0, CRITERIA)["diversity_ok"] is None
    half = acceptance_checks(0.7, 0.8, 0.6, 0.5, 0, None, CRITERIA)      # near-copies known, blur test not
    assert half["near_copies_ok"] is True and half["memorisation_ok"] is None and half["passed"] is False
    assert acceptance_checks(0.7, 0.8, 0.6, 0.5, 2, None, CRITERIA)["memorisation_ok"] is False  # one failure decides
    for key in ("min_recall", "max_share_closer_than_reconstructions"):
        with pytest.raises(KeyError, match=key):
            acceptance_checks(0.9, 0.9, 0.6, 0.5, 0, 0.0, {k: v for k, v in CRITERIA.items() if k != key})


def test_the_diversity_bar_is_a_share_of_the_real_dissimilarity():
    """Smoothing both sets equally raises both MS-SSIMs; the share keeps the verdict where a margin flips it."""
    raw = acceptance_checks(0.83, 0.786, 0.9, 0.9, 0, 0.0, CRITERIA)        # the demo's unsmoothed figures
    smoothed = acceptance_checks(0.915, 0.889, 0.9, 0.9, 0, 0.0, CRITERIA)  # both smoothed by 1 voxel
    assert raw["diversity_ok"] is True and smoothed["diversity_ok"] is True
    assert acceptance_checks(0.95, 0.889, 0.9, 0.9, 0, 0.0, CRITERIA)["diversity_ok"] is False
    for share in (0.0, 1.5):
        with pytest.raises(ValueError, match="min_dissimilarity_share"):
            acceptance_checks(0.8, 0.8, 0.9, 0.9, 0, 0.0, {**CRITERIA, "min_dissimilarity_share": share})
