"""medaug.cohort.config: the demo-cohort generator's parameters, read and checked before anything is written."""

from __future__ import annotations

import copy

import pytest

from medaug.cohort.config import CohortConfig, CohortConfigError, SiteConfig, valid_orientation


@pytest.fixture()
def params(tiny_cohort_params) -> dict:
    return copy.deepcopy(tiny_cohort_params)


@pytest.mark.parametrize(("code", "valid"), [("RAS", True), ("LAS", True), ("PSL", True), ("IPR", True),
                                             ("RLS", False), ("RA", False), ("RASX", False), ("XYZ", False),
                                             (None, False)])
def test_valid_orientation_needs_one_letter_of_each_axis(code, valid):
    assert valid_orientation(code) is valid


def test_from_dict_drops_the_stage_keys_and_reads_lists_and_cdr_keys(params):
    params.update(out_dir="data/bids", results_dir="r", metrics_dir="m", montage_subjects=3, demo=["demo"], bids={})
    config = CohortConfig.from_dict(params)
    assert config.acquisition.voxel_size_mm == (4.0, 4.0, 4.0) and isinstance(config.cohorts[0].sites, tuple)
    assert config.demographics["AD"].cdr == {0.5: 0.55, 1.0: 0.45}
    assert [c.name for c in config.cohorts] == list(params["cohorts"])
    assert config.sites["SITE-A"] == SiteConfig(**{k: tuple(v) if isinstance(v, list) else v
                                                   for k, v in params["sites"]["SITE-A"].items()})


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda p: p.pop("severity"), "cohort: missing key 'severity'"),
    (lambda p: p.update(n_jobs=0), "cohort.n_jobs must be >= 1, got 0"),
    (lambda p: p.update(session_images="some"), "cohort.session_images must be 'baseline' or 'all', got 'some'"),
    (lambda p: p.update(cohorts={}), "cohort.cohorts is empty"),
    (lambda p: p["sites"].update({"SITE-A": [1, 2]}), "cohort.sites.SITE-A must be a mapping, got list"),
    (lambda p: p["sites"]["SITE-A"].update(intensity_scale=30000), "cohort.sites.SITE-A.intensity_scale must be in (0, 20000]"),
    (lambda p: p["sites"]["SITE-A"].update(voxel_aspect=[1, 0, 1]), "cohort.sites.SITE-A.voxel_aspect must be 3 positive"),
    (lambda p: p["demographics"].pop("MCI"), "cohort.demographics: missing diagnosis 'MCI'"),
    (lambda p: p["demographics"]["AD"].update(cdr={"0.5": 0.5, "1.0": 0.45}), "cohort.demographics.AD.cdr probabilities"),
    (lambda p: p["demographics"]["CN"].update(male_fraction=1.2), "cohort.demographics.CN.male_fraction must be in [0, 1]"),
    (lambda p: p["severity"].pop("MCI-AD"), "cohort.severity: missing trajectory 'MCI-AD'"),
    (lambda p: p["cohorts"]["demo-train"].update(role="test"), "cohort.cohorts.demo-train.role must be 'training' or"),
    (lambda p: p["cohorts"]["demo-train"].update(id_prefix="DE-MO"), "id_prefix must be alphanumeric"),
    (lambda p: p["cohorts"]["demo-train"].update(groups={"CN": 5000, "AD": 5000}), "10000 participants exceed 9999"),
    (lambda p: p["cohorts"]["demo-train"].update(no_followup_fraction=2), "no_followup_fraction must be in [0, 1]"),
    (lambda p: p["anatomy"].update(head_scale_mean={"M": 1.0}), "head_scale_mean needs positive values for 'M' and 'F'"),
    (lambda p: p["acquisition"].update(deface_angle_deg=100), "deface_angle_deg must lie in [0, 90]"),
    (lambda p: p["cohorts"]["demo-train"].pop("role"), "cohort.cohorts.demo-train: "),
])
def test_each_bad_parameter_is_named(params, mutate, message):
    mutate(params)
    with pytest.raises(CohortConfigError) as raised:
        CohortConfig.from_dict(params)
    assert message in str(raised.value)


def _still(params: dict) -> dict:
    """No rotation, translation, offset or head-size spread: the brain needs exactly the template's extent."""
    params["acquisition"].update(rotation_deg=0, translation_mm=0, fov_offset_mm=0, voxel_size_mm=[4.0, 4.0, 4.0])
    params["anatomy"].update(head_scale_mean={"M": 1.0, "F": 1.0}, head_scale_sd=0.0)
    return params


def test_the_field_of_view_must_hold_the_brain_extent_by_hand(params):
    _still(params)
    params["acquisition"]["field_of_view_mm"] = [144.0, 180.0, 154.0]   # the MNI brain box
    CohortConfig.from_dict(params)
    params["acquisition"]["field_of_view_mm"] = [144.0, 179.5, 154.0]
    with pytest.raises(CohortConfigError, match=r"field_of_view_mm\[1\] = 179.5 mm cannot fit the brain.*needs 180 mm"):
        CohortConfig.from_dict(params)


def test_a_neck_site_checks_its_own_field_of_view_moved_down(params):
    _still(params)
    params["acquisition"].update(field_of_view_mm=[144.0, 180.0, 154.0], neck_field_of_view_mm=[144.0, 180.0, 214.0],
                                 neck_fov_shift_mm=-30.0)
    CohortConfig.from_dict(params)   # without a neck site the neck field of view is not used
    params["sites"]["SITE-A"]["neck"] = True
    CohortConfig.from_dict(params)   # 154 + 2 * 30 = 214 mm
    params["acquisition"]["neck_fov_shift_mm"] = -31.0
    with pytest.raises(CohortConfigError, match=r"neck_field_of_view_mm\[2\] = 214.0 mm .*moved by -31.0 mm"):
        CohortConfig.from_dict(params)
