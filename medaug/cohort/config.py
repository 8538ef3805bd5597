"""Parameters of the demo-cohort generator, validated before anything is written.

Every number of the generator lives here, filled from the ``cohort`` section of ``params.yaml``
by :func:`CohortConfig.from_dict`. Validation errors are :class:`CohortConfigError` and name the
offending key, so a bad profile fails before a single file is written.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from medaug.config import check_keys

TRAJECTORIES: tuple[str, ...] = ("CN", "AD", "MCI", "CN-MCI", "MCI-AD")
"""Diagnosis trajectories over the three sessions; only ``CN`` and ``AD`` are stable labels."""

BASELINE_DIAGNOSIS: dict[str, str] = {"CN": "CN", "AD": "AD", "MCI": "MCI", "CN-MCI": "CN", "MCI-AD": "MCI"}
SESSIONS_MONTHS: tuple[int, ...] = (0, 12, 24)
ORIENTATIONS: tuple[str, ...] = ("RAS", "LAS")
"""The usual storage orientations; any nibabel axis code (one of R/L, A/P, S/I per axis, e.g. ``PSL``
for a sagittal acquisition) is accepted, see :func:`valid_orientation`."""

# Extent of the brain of the MNI152 template, in mm, before head scaling: the box of nilearn's
# 2009a brain mask is x -72..72, y -107..73, z -72..82 mm. A field of view must hold the whole
# brain in every pose; the synthetic scalp may be clipped, as it often is in real scans.
BRAIN_EXTENT_MM: tuple[float, float, float] = (144.0, 180.0, 154.0)
MAX_PARTICIPANTS_PER_COHORT = 9999


class CohortConfigError(ValueError):
    """A parameter of the demo-cohort generator is invalid; the message names the key."""


@dataclass(frozen=True)
class SiteConfig:
    """One scanner site: its intensity scale, contrast, noise and storage orientation.

    Attributes:
        intensity_scale: stored value of white matter before noise (int16 units).
        contrast_gamma: intensities are raised to this power (site contrast differences).
        noise_std: Rician noise level as a fraction of white-matter intensity.
        bias_std: standard deviation of the log bias field's polynomial coefficients.
        orientation: voxel axes storage as a nibabel axis code: ``RAS``, ``LAS`` (first axis
            flipped), or any other, e.g. ``PSL`` (sagittal slices, as many 3D MPRAGE scans).
        voxel_aspect: per-world-axis (x, y, z) multiplier of the acquisition voxel size (e.g. ``[1.2, 1, 1]``).
        neck: a whole-head acquisition: the field of view is ``acquisition.neck_field_of_view_mm``,
            moved down by ``acquisition.neck_fov_shift_mm``, and shows the neck, the face and the
            top of the shoulders (:mod:`medaug.cohort.body`) below the head.
        deface: the site's images are defaced the way pydeface / quickshear leave them: every voxel
            in front of and below a plane through the face is zeroed (:func:`medaug.cohort.body.face_plane`,
            ``acquisition.deface_angle_deg`` and ``deface_margin_mm``), the neck's front included.
    """

    intensity_scale: float = 1000.0
    contrast_gamma: float = 1.0
    noise_std: float = 0.03
    bias_std: float = 0.1
    orientation: str = "RAS"
    voxel_aspect: tuple[float, float, float] = (1.0, 1.0, 1.0)
    neck: bool = False
    deface: bool = False


def valid_orientation(code: str) -> bool:
    """True for a 3-letter axis code with one of R/L, one of A/P and one of S/I (e.g. RAS, LAS, PSL)."""
    if not isinstance(code, str) or len(code) != 3:
        return False
    axes = sorted(next((i for i, pair in enumerate(("RL", "AP", "SI")) if letter in pair), -1) for letter in code)
    return axes == [0, 1, 2]


@dataclass(frozen=True)
class GroupDemographics:
    """Baseline demographics of one diagnosis (thesis table 1.5 for CN and AD).

    ``age``, ``mmse`` are (mean, sd); ``cdr`` maps a CDR global value to its probability.
    """

    age: tuple[float, float]
    male_fraction: float
    mmse: tuple[float, float]
    cdr: dict[float, float]


@dataclass(frozen=True)
class AnatomyConfig:
    """Subject anatomy: inter-subject deformation, head size, ageing and AD atrophy.

    Atrophy amounts are fractions at severity 1 (AD) or per decade above ``age_reference`` (ageing):
    ``*_loss`` moves tissue intensity towards CSF (partial-volume loss of grey matter),
    ``*_growth`` / ``*_shrink`` are peak radial scalings of a Gaussian-weighted local deformation.
    """

    deformation_mm: float = 2.0
    deformation_wavelength_mm: float = 90.0
    head_scale_mean: dict[str, float] = field(default_factory=lambda: {"M": 1.04, "F": 0.96})
    head_scale_sd: float = 0.03
    age_reference: float = 60.0
    gm_loss_per_decade: float = 0.04
    ventricle_growth_per_decade: float = 0.06
    ad_gm_loss: float = 0.04
    ad_mtl_loss: float = 0.6
    ad_mtl_shrink: float = 0.3
    ad_ventricle_growth: float = 0.25
    head_shell: bool = True


@dataclass(frozen=True)
class AcquisitionConfig:
    """Native image grid and pose. Sizes in mm; angles in degrees (uniform in +-value per axis).

    ``neck_field_of_view_mm`` (x, y, z) is the field of view of the sites with ``neck: true``; its
    centre is moved by ``neck_fov_shift_mm`` along the world z axis (negative: down, towards the
    shoulders), so that the top of the head stays in the image and the neck fills the bottom.

    At sites with ``deface: true`` the plane of the defacing has its normal ``deface_angle_deg``
    below the anterior axis of the head and passes ``deface_margin_mm`` in front of the template
    brain's furthest point along that normal.
    """

    voxel_size_mm: tuple[float, float, float] = (2.0, 2.0, 2.0)
    field_of_view_mm: tuple[float, float, float] = (200.0, 240.0, 230.0)
    fov_offset_mm: float = 8.0
    rotation_deg: float = 8.0
    translation_mm: float = 10.0
    neck_field_of_view_mm: tuple[float, float, float] = (240.0, 256.0, 300.0)
    neck_fov_shift_mm: float = -30.0
    deface_angle_deg: float = 45.0
    deface_margin_mm: float = 8.0


@dataclass(frozen=True)
class CohortSpec:
    """One BIDS dataset to generate."""

    name: str
    role: str
    id_prefix: str
    sites: tuple[str, ...]
    groups: dict[str, int]
    no_followup_fraction: float = 0.05


@dataclass(frozen=True)
class CohortConfig:
    """Everything the generator needs; see ``params.yaml`` section ``cohort``."""

    seed: int
    cohorts: tuple[CohortSpec, ...]
    sites: dict[str, SiteConfig]
    demographics: dict[str, GroupDemographics]
    severity: dict[str, tuple[float, float]]
    severity_per_year: dict[str, float]
    anatomy: AnatomyConfig = AnatomyConfig()
    acquisition: AcquisitionConfig = AcquisitionConfig()
    session_images: str = "baseline"
    n_jobs: int = 1

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> CohortConfig:
        """Build and validate a config from the ``cohort`` section of ``params.yaml``."""
        params = dict(params)
        for key in ("out_dir", "montage_subjects", "results_dir", "demo", "bids", "metrics_dir"):
            params.pop(key, None)  # stage-level keys and the source switch (dvc.yaml), not generator parameters
        known = {f.name for f in dataclasses.fields(cls)}
        check_keys(params, known, "cohort", CohortConfigError)
        try:
            sites = {name: _build(SiteConfig, f"cohort.sites.{name}", spec) for name, spec in params["sites"].items()}
            cohorts = tuple(
                _build(CohortSpec, f"cohort.cohorts.{name}", {"name": name, **spec})
                for name, spec in params["cohorts"].items()
            )
            demographics = {
                dx: _build(GroupDemographics, f"cohort.demographics.{dx}", spec)
                for dx, spec in params["demographics"].items()
            }
            config = cls(
                seed=int(params["seed"]),
                cohorts=cohorts,
                sites=sites,
                demographics=demographics,
                severity={k: tuple(map(float, v)) for k, v in params["severity"].items()},
                severity_per_year={k: float(v) for k, v in params.get("severity_per_year", {}).items()},
                anatomy=_build(AnatomyConfig, "cohort.anatomy", params.get("anatomy", {})),
                acquisition=_build(AcquisitionConfig, "cohort.acquisition", params.get("acquisition", {})),
                session_images=params.get("session_images", "baseline"),
                n_jobs=int(params.get("n_jobs", 1)),
            )
        except KeyError as err:
            raise CohortConfigError(f"cohort: missing key {err}") from err
        config.validate()
        return config

    def validate(self) -> None:
        """Raise :class:`CohortConfigError` naming the first invalid parameter."""
        if self.seed < 0:
            raise CohortConfigError(f"cohort.seed must be >= 0, got {self.seed}")
        if self.n_jobs < 1:
            raise CohortConfigError(f"cohort.n_jobs must be >= 1, got {self.n_jobs}")
        if self.session_images not in ("baseline", "all"):
            raise CohortConfigError(f"cohort.session_images must be 'baseline' or 'all', got {self.session_images!r}")
        if not self.cohorts:
            raise CohortConfigError("cohort.cohorts is empty: nothing to generate")
        self._validate_sites()
        self._validate_demographics()
        self._validate_cohorts()
        self._validate_geometry()

    def _validate_sites(self) -> None:
        """Orientation, intensity scale, contrast, noise and voxel aspect of every site."""
        for name, site in self.sites.items():
            key = f"cohort.sites.{name}"
            if not valid_orientation(site.orientation):
                raise CohortConfigError(
                    f"{key}.orientation must be an axis code with one of R/L, A/P and S/I (e.g. {', '.join(ORIENTATIONS)}, "
                    f"PSL), got {site.orientation!r}"
                )
            if site.intensity_scale <= 0 or site.intensity_scale * 1.6 > 32767:
                raise CohortConfigError(f"{key}.intensity_scale must be in (0, 20000], got {site.intensity_scale}")
            if site.contrast_gamma <= 0 or site.noise_std < 0 or site.bias_std < 0:
                raise CohortConfigError(f"{key}: contrast_gamma must be > 0, noise_std and bias_std >= 0")
            if len(site.voxel_aspect) != 3 or min(site.voxel_aspect) <= 0:
                raise CohortConfigError(f"{key}.voxel_aspect must be 3 positive numbers, got {site.voxel_aspect}")

    def _validate_demographics(self) -> None:
        """Demographics of CN, MCI and AD, and the severity of every trajectory."""
        for dx in ("CN", "MCI", "AD"):
            if dx not in self.demographics:
                raise CohortConfigError(f"cohort.demographics: missing diagnosis {dx!r}")
            demo = self.demographics[dx]
            if not 0 <= demo.male_fraction <= 1:
                raise CohortConfigError(f"cohort.demographics.{dx}.male_fraction must be in [0, 1]")
            if demo.age[1] < 0 or demo.mmse[1] < 0:
                raise CohortConfigError(f"cohort.demographics.{dx}: standard deviations must be >= 0")
            if not demo.cdr or abs(sum(demo.cdr.values()) - 1) > 1e-6 or min(demo.cdr.values()) < 0:
                raise CohortConfigError(f"cohort.demographics.{dx}.cdr probabilities must be >= 0 and sum to 1")
        for trajectory in TRAJECTORIES:
            if trajectory not in self.severity:
                raise CohortConfigError(f"cohort.severity: missing trajectory {trajectory!r}")
            if self.severity[trajectory][1] < 0:
                raise CohortConfigError(f"cohort.severity.{trajectory}: sd must be >= 0")

    def _validate_cohorts(self) -> None:
        """Names, roles, id prefixes, sites, groups and follow-up fraction of every cohort."""
        names = set()
        for spec in self.cohorts:
            key = f"cohort.cohorts.{spec.name}"
            if spec.name in names:
                raise CohortConfigError(f"{key}: duplicate cohort name")
            names.add(spec.name)
            if spec.role not in ("training", "external"):
                raise CohortConfigError(f"{key}.role must be 'training' or 'external', got {spec.role!r}")
            if not spec.id_prefix.isalnum():
                raise CohortConfigError(f"{key}.id_prefix must be alphanumeric (BIDS labels), got {spec.id_prefix!r}")
            if not spec.sites:
                raise CohortConfigError(f"{key}.sites is empty")
            unknown = [s for s in spec.sites if s not in self.sites]
            if unknown:
                raise CohortConfigError(f"{key}.sites: unknown site name(s) {unknown}; defined: {sorted(self.sites)}")
            bad = [t for t in spec.groups if t not in TRAJECTORIES]
            if bad:
                raise CohortConfigError(f"{key}.groups: unknown trajectory {bad}; expected some of {TRAJECTORIES}")
            for trajectory, count in spec.groups.items():
                if not isinstance(count, int) or count < 0:
                    raise CohortConfigError(f"{key}.groups.{trajectory} must be a non-negative integer, got {count!r}")
            if spec.groups.get("CN", 0) < 1 or spec.groups.get("AD", 0) < 1:
                raise CohortConfigError(f"{key}.groups: needs at least one CN and one AD participant")
            total = sum(spec.groups.values())
            if total > MAX_PARTICIPANTS_PER_COHORT:
                raise CohortConfigError(f"{key}.groups: {total} participants exceed {MAX_PARTICIPANTS_PER_COHORT}")
            if not 0 <= spec.no_followup_fraction <= 1:
                raise CohortConfigError(f"{key}.no_followup_fraction must be in [0, 1]")

    def _validate_geometry(self) -> None:
        acq, anat = self.acquisition, self.anatomy
        if len(acq.voxel_size_mm) != 3 or min(acq.voxel_size_mm) <= 0:
            raise CohortConfigError(f"cohort.acquisition.voxel_size_mm must be 3 positive numbers, got {acq.voxel_size_mm}")
        if len(acq.field_of_view_mm) != 3 or min(acq.field_of_view_mm) <= 0:
            raise CohortConfigError("cohort.acquisition.field_of_view_mm must be 3 positive numbers")
        if min(anat.head_scale_mean.values()) <= 0 or set(anat.head_scale_mean) != {"M", "F"}:
            raise CohortConfigError("cohort.anatomy.head_scale_mean needs positive values for 'M' and 'F'")
        if not 0.0 <= acq.deface_angle_deg <= 90.0 or acq.deface_margin_mm < 0:
            raise CohortConfigError("cohort.acquisition.deface_angle_deg must lie in [0, 90] degrees and "
                                    "deface_margin_mm be >= 0 mm")
        # The brain must fit in the field of view in every pose: a large head (mean + 2 sd),
        # rotated by the largest angle, shifted by the largest translation and FOV offset.
        scale = max(anat.head_scale_mean.values()) + 2 * anat.head_scale_sd
        angle = math.radians(acq.rotation_deg)
        any_neck = any(site.neck for site in self.sites.values())
        fovs = [("field_of_view_mm", acq.field_of_view_mm, 0.0)]
        if any_neck:
            fovs.append(("neck_field_of_view_mm", acq.neck_field_of_view_mm, acq.neck_fov_shift_mm))
        for name, field_of_view, shift in fovs:
            if len(field_of_view) != 3 or min(field_of_view) <= 0:
                raise CohortConfigError(f"cohort.acquisition.{name} must be 3 positive numbers")
            for axis, (fov, extent) in enumerate(zip(field_of_view, BRAIN_EXTENT_MM)):
                others = [e for i, e in enumerate(BRAIN_EXTENT_MM) if i != axis]
                rotated = extent * math.cos(angle) + max(others) * math.sin(angle)
                # the shift moves the centre along z: the brain must fit in the smaller half
                moved = acq.translation_mm + acq.fov_offset_mm + (abs(shift) if axis == 2 else 0.0)
                needed = scale * rotated + 2 * moved
                if fov < needed:
                    raise CohortConfigError(
                        f"cohort.acquisition.{name}[{axis}] = {fov} mm cannot fit the brain: "
                        f"a head up to {scale:.2f}x the template, rotated by {acq.rotation_deg} deg and moved by "
                        f"{acq.translation_mm + acq.fov_offset_mm} mm"
                        + (f" (field of view moved by {shift} mm)" if axis == 2 and shift else "")
                        + f" needs {needed:.0f} mm"
                    )
        for name, site in self.sites.items():
            field_of_view = acq.neck_field_of_view_mm if site.neck else acq.field_of_view_mm
            for axis in range(3):
                voxel = acq.voxel_size_mm[axis] * site.voxel_aspect[axis]
                if field_of_view[axis] / voxel < 16:
                    raise CohortConfigError(
                        f"cohort.sites.{name}: voxel {voxel} mm along axis {axis} leaves fewer than 16 voxels"
                    )


def _build(cls: type, key: str, spec: dict[str, Any]) -> Any:
    """Instantiate a frozen dataclass from a dict, with tuples for list fields and named errors."""
    if not isinstance(spec, dict):
        raise CohortConfigError(f"{key} must be a mapping, got {type(spec).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    check_keys(spec, fields, key, CohortConfigError)
    values = {}
    for name, value in spec.items():
        if isinstance(value, list):
            value = tuple(value)
        if name == "cdr":
            value = {float(k): float(v) for k, v in value.items()}
        values[name] = value
    try:
        return cls(**values)
    except TypeError as err:
        raise CohortConfigError(f"{key}: {err}") from err
