"""t1-linear: N4 bias-field correction, affine-only registration to the template, resampling, crop.

Pipeline for one 3D T1w image (any orientation, voxel size or field of view; skull and neck allowed)::

    native image --neck crop (FSL robustfov-like: ``neck_crop_mm`` below the top of the head)-->
      --N4 (once, at a shrink factor)--> bias-corrected native image
      --resample to ``registration_spacing_mm``--> registration copy (coarse, fast)
      --ANTs affine (Mattes MI, fixed-image brain mask, coarse-to-fine) from several cranium-centre
        starts (pitched / rolled), the best Mattes score kept--> affine
      --linear resampling of the bias-corrected native image onto the cropped template grid--> crop

Whole-head scans with a neck, a face and shoulders: a centre-of-mass start lets the
neck pull the fit (on a real defaced scan with a neck the brain came out a third too small). Two
changes hold such scans: the neck is cut from the top of the head down (:mod:`fov`), and the start
aligns the centroid of the cranium (the head's top ``cranium_cap_mm``) with that of the template
head (its brain mask dilated by ``TEMPLATE_SCALP_MM``), not the centres of mass of the images.

Only an affine transform is ever estimated: :func:`register_affine` asks ANTs for an ``Affine``
transform and checks that exactly one affine transform file came back (clinica 0.12's antspy
path silently ran SyN instead).

ANTs uses LPS world coordinates and nibabel RAS; :func:`nifti_to_ants` converts from the nibabel
affine (the same one the rest of the project reads), so every image has one geometry everywhere.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from scipy import ndimage

from medaug.config import check_keys, dataclass_keys
from medaug.preprocess.fov import cranium_centre, crop_neck
from medaug.preprocess.mattes import mattes_mutual_information
from medaug.preprocess.poses import (  # noqa: F401 - native_from_template, rotation_about: re-exported
    _RAS_TO_LPS, native_from_template, rotation_about, write_affine,
)
from medaug.preprocess.template import CLINICA_CROP_SHAPE, CropBox, Template, crop_box, load_template


INITIALISATIONS = ("cranium", "center_of_mass", "geometric_center", "identity")

TEMPLATE_SCALP_MM = 12.0
"""The template is skull-stripped: its head, for the cranium start, is the brain mask dilated by this (mm)."""


class RegistrationError(RuntimeError):
    """ANTs failed, or returned something other than a single affine transform."""


@dataclass(frozen=True)
class T1LinearConfig:
    """Every number of t1-linear (sizes in voxels, distances in mm).

    Attributes:
        template_resolution_mm: resolution of nilearn's template used as the output grid (1 or 2).
        crop_shape: output shape in voxels of the template grid (clinica: 169 x 208 x 179 at 1 mm).
        n4_shrink_factor: N4 runs on the image down-sampled by this factor.
        n4_iterations: N4 iterations per fitting level (one entry per level).
        n4_tolerance: N4 stops a level when the bias field changes less than this.
        n4_spline_distance_mm: B-spline mesh spacing of the bias field.
        registration_spacing_mm: both images are resampled to this isotropic spacing before
            registration (coarser = faster; the result is applied to the full-resolution image).
        shrink_factors, smoothing_sigmas_mm, iterations: the coarse-to-fine schedule, one entry per
            level, relative to ``registration_spacing_mm``.
        sampling_rate: fraction of fixed-mask voxels sampled by the Mattes metric per iteration.
        histogram_bins: Mattes mutual-information bins.
        mask_dilation_mm: the template brain mask is dilated by this much to form the metric mask
            (the moving image keeps its skull; the metric only looks at the brain and its edge).
            Measured on the demo cohort: 4 mm beats 0 mm and 10 mm (the scalp then enters the
            mask and biases the fit); 20 mm let one image in five converge to a wrong pose.
        initialisation: ``"cranium"`` (centroids of the top ``cranium_cap_mm`` of the head masks
            aligned; robust to a neck), ``"center_of_mass"`` (intensity centres aligned, as ANTs'
            ``[f,m,1]``), ``"geometric_center"`` or ``"identity"``.
        random_seed: seed of ANTs' metric sampling, so a run is repeatable.
        neck_crop_mm: before anything else, slices more than this far below the top of the head
            are dropped (FSL robustfov keeps 170 mm; 200 mm keeps the cerebellum of a large, tilted
            head); 0 or None keeps the whole field of view.
        neck_threshold_fraction: head mask of the neck crop and of the cranium start: voxels above
            this fraction of the image's 99th intensity percentile.
        cranium_cap_mm: height (mm) of the cap of the head whose centroid the cranium start aligns.
        start_pitch_deg, start_roll_deg: the cranium start is tried with every combination of these
            rotations (degrees, about the template's left-right and front-back axes through the
            template cranium centre); the converged pose with the best Mattes score is kept. A
            single start pitched by 0 was caught 15 degrees nose-up on a real defaced head; each
            start costs one coarse registration (about 0.5 s at 3 mm).
        retry_start_pitch_deg, retry_start_roll_deg: when an image fails QC (NCC, head fit or pose
            check), :mod:`medaug.preprocess.pool` redoes t1-linear from every combination of these
            cranium-start rotations and keeps the redone pose if it passes every check; both empty:
            no retry. On the demo, one start left 3 of 220 images 9-11 mm off; three pitched
            starts brought two of them under 0.4 mm, and the third needed the rolled ones.
        pose_check_spacing_mm, pose_check_shrink_factors, pose_check_smoothing_sigmas_mm,
        pose_check_iterations: grid (mm) and coarse-to-fine schedule of the pose check's
            registrations (:mod:`medaug.preprocess.pose_check`), which only need to find the right
            rotation basin; its scores are computed on the same grid. Defaults: the registration's own.
        pose_check_from_judged: the pose check also registers from the judged pose itself (a local
            refinement: useful only when its schedule is as fine as the registration's).

    The defaults (coarse, few iterations) were chosen on the demo cohort: finer schedules
    (2 mm grid, 200/100/50 iterations) took 4x longer without reducing the error against the
    known poses (about 0.8 mm mean over the brain, limited by the anatomy's non-linear part).
    """

    template_resolution_mm: int = 1
    crop_shape: tuple[int, int, int] = CLINICA_CROP_SHAPE
    n4_shrink_factor: int = 4
    n4_iterations: tuple[int, ...] = (20, 20)
    n4_tolerance: float = 1e-3
    n4_spline_distance_mm: float = 100.0
    registration_spacing_mm: float = 3.0
    shrink_factors: tuple[int, ...] = (4, 2, 1)
    smoothing_sigmas_mm: tuple[float, ...] = (6.0, 3.0, 1.5)
    iterations: tuple[int, ...] = (60, 30, 10)
    sampling_rate: float = 0.15
    histogram_bins: int = 32
    mask_dilation_mm: float = 4.0
    initialisation: str = "cranium"
    random_seed: int = 20240
    neck_crop_mm: float | None = 200.0
    neck_threshold_fraction: float = 0.2
    cranium_cap_mm: float = 100.0
    start_pitch_deg: tuple[float, ...] = (-10.0, 0.0, 10.0)
    start_roll_deg: tuple[float, ...] = (0.0,)
    retry_start_pitch_deg: tuple[float, ...] = (-10.0, 0.0, 10.0)
    retry_start_roll_deg: tuple[float, ...] = (-10.0, 0.0, 10.0)
    pose_check_spacing_mm: float = 3.0
    pose_check_shrink_factors: tuple[int, ...] = (4, 2, 1)
    pose_check_smoothing_sigmas_mm: tuple[float, ...] = (6.0, 3.0, 1.5)
    pose_check_iterations: tuple[int, ...] = (60, 30, 10)
    pose_check_from_judged: bool = True

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], where: str = "t1_linear") -> "T1LinearConfig":
        """From a parameter mapping (lists become tuples); unknown keys raise ``ValueError`` naming ``where``."""
        check_keys(values, dataclass_keys(cls), where)
        return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in values.items()})

    def __post_init__(self) -> None:
        levels = {len(self.shrink_factors), len(self.smoothing_sigmas_mm), len(self.iterations)}
        if len(levels) != 1:
            raise ValueError("shrink_factors, smoothing_sigmas_mm and iterations need one entry per level")
        pose_levels = {len(self.pose_check_shrink_factors), len(self.pose_check_smoothing_sigmas_mm),
                       len(self.pose_check_iterations)}
        if len(pose_levels) != 1 or self.pose_check_spacing_mm <= 0:
            raise ValueError("pose_check_spacing_mm must be > 0 and the pose_check_* schedule needs one entry per level")
        if self.initialisation not in INITIALISATIONS:
            raise ValueError(f"unknown initialisation {self.initialisation!r}")
        if not self.start_pitch_deg or not self.start_roll_deg:
            raise ValueError("start_pitch_deg and start_roll_deg need at least one angle each (0: no rotation)")
        if bool(self.retry_start_pitch_deg) != bool(self.retry_start_roll_deg):
            raise ValueError("retry_start_pitch_deg and retry_start_roll_deg are both empty (no retry) or both set")
        if self.registration_spacing_mm <= 0 or self.n4_shrink_factor < 1:
            raise ValueError("registration_spacing_mm must be > 0 and n4_shrink_factor >= 1")


def retry_config(config: T1LinearConfig) -> T1LinearConfig | None:
    """``config`` with its cranium starts replaced by the retry starts, or ``None`` when there is no retry."""
    if not config.retry_start_pitch_deg:
        return None
    return dataclasses.replace(config, start_pitch_deg=config.retry_start_pitch_deg,
                               start_roll_deg=config.retry_start_roll_deg)


@dataclass
class T1LinearResult:
    """Outputs for one image.

    Attributes:
        cropped: bias-corrected image resampled on the cropped template grid (float32, ``crop_shape``,
            1 mm voxels at template resolution 1), intensities as after N4 (not rescaled).
        transform_file: ANTs/ITK affine (``.mat``) mapping template points to native points
            (ANTs' forward transform of the moving image); lives in a temporary directory
            owned by the caller (see :func:`t1_linear`).
    """

    cropped: nib.Nifti1Image
    transform_file: Path


def nifti_to_ants(image: nib.Nifti1Image):
    """A 3D nibabel image as an ANTs float image with the same world geometry (RAS -> LPS).

    Raises ``ValueError`` for a sheared affine (ITK stores only spacing and an orthonormal direction).
    """
    import ants

    affine = _RAS_TO_LPS @ np.asarray(image.affine, dtype=float)
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    direction = affine[:3, :3] / spacing
    if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-4):
        raise ValueError("the image affine has a shear; only rotation + voxel size are supported")
    data = np.asarray(image.dataobj, dtype=np.float32)
    return ants.from_numpy(data, origin=affine[:3, 3].tolist(), spacing=spacing.tolist(), direction=direction)


def n4_correct(moving, config: T1LinearConfig):
    """N4 bias-field correction once, on a head mask (voxels above the mean intensity)."""
    import ants

    head_mask = ants.get_mask(moving, cleanup=0)
    return ants.n4_bias_field_correction(
        moving,
        mask=head_mask,
        shrink_factor=config.n4_shrink_factor,
        convergence={"iters": list(config.n4_iterations), "tol": config.n4_tolerance},
        spline_param=config.n4_spline_distance_mm,
    )


def _resample_isotropic(image, spacing_mm: float, interpolation: int = 0):
    import ants

    if np.allclose(image.spacing, spacing_mm):
        return image
    return ants.resample_image(image, (spacing_mm,) * 3, use_voxels=False, interp_type=interpolation)


@contextlib.contextmanager
def _ants_seed(seed: int) -> Iterator[None]:
    # antspyx 0.6.3 exposes the seed of its metric sampling only through this module attribute
    # (set_ants_deterministic also forbids non-"Repro" transforms); restore it afterwards.
    import ants.config

    previous = ants.config._random_seed
    ants.config._random_seed = int(seed)
    try:
        yield
    finally:
        ants.config._random_seed = previous


def _initial_transform(fixed, moving, config: T1LinearConfig, workdir: Path,
                       offset_lps_mm: np.ndarray | None = None) -> list[str] | None:
    import ants

    if offset_lps_mm is None and config.initialisation == "cranium":
        raise ValueError("the cranium start needs the offset of the cranium centres (offset_lps_mm)")
    if offset_lps_mm is None and config.initialisation == "center_of_mass":
        return None  # ANTs' default: [fixed, moving, 1], intensity centres of mass aligned
    if offset_lps_mm is None and config.initialisation == "identity":
        return ["Identity"]
    offset = offset_lps_mm if offset_lps_mm is not None else np.asarray(_center(moving)) - np.asarray(_center(fixed))
    transform = ants.create_ants_transform(transform_type="AffineTransform", dimension=3, translation=offset.tolist())
    path = workdir / "initial.mat"
    ants.write_transform(transform, str(path))
    return [str(path)]


def _center(image) -> np.ndarray:
    """World (LPS) coordinates of the grid centre, in mm."""
    import ants

    corner = (np.asarray(image.shape, dtype=float) - 1.0) / 2.0
    return np.asarray(ants.transform_index_to_physical_point(image, corner.tolist()))


def register_affine(fixed, moving, fixed_mask, config: T1LinearConfig, workdir: Path,
                    offset_lps_mm: np.ndarray | None = None, initial_file: Path | None = None,
                    prefix: str = "reg_") -> Path:
    """Affine-only ANTs registration of ``moving`` onto ``fixed``; returns the ``.mat`` transform file.

    ``initial_file`` (an affine ``.mat``, see :func:`write_affine`), when given, is the start;
    otherwise ``offset_lps_mm`` (moving minus fixed, LPS mm) is the starting translation (the
    cranium start); otherwise ``config.initialisation`` decides. Output files are named
    ``workdir / prefix*``.

    Raises :class:`RegistrationError` unless ANTs returned exactly one affine transform.
    """
    import ants

    start = [str(initial_file)] if initial_file is not None else _initial_transform(
        fixed, moving, config, workdir, offset_lps_mm)
    with _ants_seed(config.random_seed):
        result = ants.registration(
            fixed=fixed,
            moving=moving,
            type_of_transform="Affine",
            initial_transform=start,
            mask=fixed_mask,
            aff_metric="mattes",
            aff_sampling=config.histogram_bins,
            aff_random_sampling_rate=config.sampling_rate,
            aff_iterations=tuple(config.iterations),
            aff_shrink_factors=tuple(config.shrink_factors),
            aff_smoothing_sigmas=tuple(config.smoothing_sigmas_mm),
            smoothing_in_mm=True,
            outprefix=str(workdir / prefix),
        )
    transforms = list(result["fwdtransforms"])
    if len(transforms) != 1 or not transforms[0].endswith("GenericAffine.mat"):
        raise RegistrationError(f"expected a single affine transform, ANTs returned {transforms}")
    kind = ants.read_transform(transforms[0]).transform_type
    if kind != "AffineTransform":
        raise RegistrationError(f"expected an AffineTransform, ANTs returned {kind}")
    return Path(transforms[0])


def registration_score(fixed, moving, fixed_mask, transform_file: str | Path) -> float:
    """Mattes mutual information of ``fixed`` and ``moving`` resampled (linear) through ``transform_file``.

    ITK's metric value with its sign flipped (higher is better), over every voxel of the fixed grid
    inside ``fixed_mask``, computed in numpy (:mod:`medaug.preprocess.mattes`): creating an ITK
    metric per call cost 0.1-0.2 s at 3 mm, about ten calls per image.
    """
    import ants

    warped = ants.apply_transforms(fixed=fixed, moving=moving, transformlist=[str(transform_file)],
                                   interpolator="linear")
    inside = fixed_mask.numpy() > 0
    return mattes_mutual_information(fixed.numpy()[inside], warped.numpy()[inside])


@dataclass(frozen=True)
class StartResult:
    """One start of :func:`register_from_starts`: its rotation (degrees), the converged transform and score."""

    pitch_deg: float
    roll_deg: float
    transform_file: Path
    score: float


def register_from_starts(fixed, moving, fixed_mask, config: T1LinearConfig, workdir: Path,
                         fixed_centre_ras: np.ndarray, moving_centre_ras: np.ndarray) -> list[StartResult]:
    """Register from the cranium start rotated by every (pitch, roll) of ``config``; best score first.

    With a single start nothing is compared and its score is NaN.

    Each start maps the template cranium centre ``fixed_centre_ras`` onto the native one
    ``moving_centre_ras`` (RAS mm) after a rotation about it; ties in score keep the config's order.
    """
    shift = np.eye(4)
    shift[:3, 3] = np.asarray(moving_centre_ras, dtype=float) - np.asarray(fixed_centre_ras, dtype=float)
    results = []
    single = len(config.start_pitch_deg) * len(config.start_roll_deg) == 1
    for pitch in config.start_pitch_deg:
        for roll in config.start_roll_deg:
            name = f"start_p{pitch:+g}_r{roll:+g}_"
            start = write_affine(shift @ rotation_about(fixed_centre_ras, pitch, roll), workdir / f"{name}init.mat")
            transform = register_affine(fixed, moving, fixed_mask, config, workdir, initial_file=start, prefix=name)
            score = float("nan") if single else registration_score(fixed, moving, fixed_mask, transform)
            results.append(StartResult(float(pitch), float(roll), transform, score))
    order = sorted(range(len(results)), key=lambda i: (-results[i].score, i))
    return [results[i] for i in order]


@dataclass
class _Targets:
    """Template pieces prepared once per process (ANTs images)."""

    box: CropBox
    cropped_template: Template
    crop_reference: object
    registration_fixed: object
    registration_mask: object
    cranium_centre_ras: np.ndarray


_TARGETS: dict[tuple, _Targets] = {}


def _targets(config: T1LinearConfig) -> _Targets:
    import ants

    key = (config.template_resolution_mm, tuple(config.crop_shape), config.registration_spacing_mm,
           config.mask_dilation_mm, config.cranium_cap_mm)
    if key in _TARGETS:
        return _TARGETS[key]
    template = load_template(config.template_resolution_mm)
    box = crop_box(np.asarray(template.brain_mask.dataobj), tuple(config.crop_shape))
    cropped = template.cropped(box)
    fixed = _resample_isotropic(nifti_to_ants(template.image), config.registration_spacing_mm)
    mask = _resample_isotropic(nifti_to_ants(template.brain_mask), config.registration_spacing_mm, interpolation=1)
    if config.mask_dilation_mm > 0:  # on the coarse grid: a 1 mm ball dilation costs seconds
        radius = max(1, int(round(config.mask_dilation_mm / config.registration_spacing_mm)))
        mask = ants.morphology(mask, operation="dilate", radius=radius, mtype="binary", shape="ball")
    brain = np.asarray(template.brain_mask.dataobj) > 0
    spacing = np.linalg.norm(template.affine[:3, :3], axis=0)
    head = ndimage.distance_transform_edt(~brain, sampling=spacing) <= TEMPLATE_SCALP_MM
    cranium = cranium_centre(head.astype(np.float32), template.affine, config.cranium_cap_mm, 0.5)
    targets = _Targets(box, cropped, nifti_to_ants(cropped.image), fixed, mask, cranium)
    _TARGETS[key] = targets
    return targets


def cropped_template(config: T1LinearConfig) -> Template:
    """The template and brain mask on the output (cropped) grid of ``config``."""
    return _targets(config).cropped_template


def t1_linear(image: nib.Nifti1Image, config: T1LinearConfig, workdir: Path,
              start_native_from_template: np.ndarray | None = None) -> T1LinearResult:
    """Run t1-linear on one 3D image; temporary files (the transform included) go to ``workdir``.

    ``start_native_from_template`` (4x4, RAS mm; e.g. a better pose found by the pose check), when
    given, is the only start of the registration instead of the cranium starts.
    """
    import ants

    targets = _targets(config)
    if config.neck_crop_mm:  # None or 0: the whole field of view
        image, _ = crop_neck(image, config.neck_crop_mm, config.neck_threshold_fraction)
    if config.initialisation == "cranium" and start_native_from_template is None:
        moving_cranium = cranium_centre(np.asarray(image.dataobj), image.affine, config.cranium_cap_mm,
                                        config.neck_threshold_fraction)
    moving = nifti_to_ants(image)
    corrected = n4_correct(moving, config)
    moving_coarse = _resample_isotropic(corrected, config.registration_spacing_mm)
    if start_native_from_template is not None:
        start = write_affine(start_native_from_template, workdir / "given_start.mat")
        transform_file = register_affine(targets.registration_fixed, moving_coarse, targets.registration_mask,
                                         config, workdir, initial_file=start, prefix="given_")
    elif config.initialisation == "cranium":
        starts = register_from_starts(targets.registration_fixed, moving_coarse, targets.registration_mask, config,
                                      workdir, targets.cranium_centre_ras, moving_cranium)
        transform_file = starts[0].transform_file
    else:
        transform_file = register_affine(targets.registration_fixed, moving_coarse, targets.registration_mask,
                                         config, workdir)
    warped = ants.apply_transforms(
        fixed=targets.crop_reference, moving=corrected, transformlist=[str(transform_file)], interpolator="linear"
    )
    # ants.numpy() is in the ANTs index order, which is the nibabel voxel order (we built it so).
    data = np.asarray(warped.numpy(), dtype=np.float32)
    cropped = nib.Nifti1Image(data, targets.cropped_template.affine)
    cropped.header.set_xyzt_units("mm")
    return T1LinearResult(cropped=cropped, transform_file=transform_file)


@contextlib.contextmanager
def scratch_directory() -> Iterator[Path]:
    """A private temporary directory for ANTs' files, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="medaug-t1linear-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
