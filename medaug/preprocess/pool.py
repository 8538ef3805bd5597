"""Preprocess many images in a worker pool: one worker call per image, never raising for a bad image.

:func:`process_image` does one image end to end (validate, t1-linear, CAPS outputs, NCC, model-ready
volume) and returns an :class:`ImageOutcome` whatever happens. :func:`process_images` runs it over a
list of jobs with a process pool whose workers each get a fixed number of ITK threads.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import multiprocessing
import os
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from medaug.io import atomic_path, write_json
from medaug.preprocess import caps
from medaug.preprocess.head_qc import MIN_HEAD_FIT, head_fit
from medaug.preprocess.pose_check import PoseCheck, check_config, pose_check
from medaug.preprocess.model_ready import dilated_mask, model_ready_volume
from medaug.preprocess.qc import template_ncc
from medaug.preprocess.t1_linear import (
    T1LinearConfig, cropped_template, native_from_template, retry_config, scratch_directory, t1_linear,
)
from medaug.preprocess.template import TEMPLATE_SPACE
from medaug.preprocess.validate import InvalidImageError, load_t1w


@dataclass(frozen=True)
class ImageJob:
    """One session to preprocess.

    ``source`` is the BIDS T1w image, or, when ``from_caps`` is true, an existing ``desc-Crop``
    image (from clinica or an earlier run) that is only scored and made model-ready.
    """

    participant_id: str
    session_id: str
    source: Path
    from_caps: bool = False


@dataclass(frozen=True)
class PreprocessSettings:
    """What every worker needs. ``target_shape`` None keeps the crop shape in the model-ready volume."""

    caps_dir: Path
    t1_linear: T1LinearConfig
    target_shape: tuple[int, int, int] | None
    antialias: bool = True
    rescale_percentiles: tuple[float, float] = (0.0, 100.0)
    force: bool = False
    brain_mask_mm: float | None = None
    pose_check_max_mm: float | None = None
    ncc_min: float = 0.5           # QC thresholds a redone registration must pass to be adopted
    head_fit_min: float = MIN_HEAD_FIT

    @classmethod
    def from_params(cls, params: Mapping[str, Any], caps_dir: Path) -> "PreprocessSettings":
        """From the ``preprocess`` section of ``params.yaml``, writing the CAPS of one cohort to ``caps_dir``.

        ``t1_linear`` keys are checked against :class:`T1LinearConfig` (an unknown key raises
        ``ValueError`` naming ``preprocess.t1_linear``). ``qc_pose_check_mm`` null skips the pose check.
        """
        target = params["target_shape"]
        mask_mm = params["model_ready_brain_mask_mm"]
        if mask_mm is not None and not float(mask_mm) >= 0:
            raise ValueError(f"preprocess.model_ready_brain_mask_mm must be >= 0 mm or null, got {mask_mm!r}")
        pose_mm = params["qc_pose_check_mm"]
        if pose_mm is not None and not float(pose_mm) > 0:
            raise ValueError(f"preprocess.qc_pose_check_mm must be > 0 mm or null, got {pose_mm!r}")
        return cls(
            caps_dir=Path(caps_dir),
            t1_linear=T1LinearConfig.from_dict(params["t1_linear"], "preprocess.t1_linear"),
            target_shape=None if target is None else tuple(int(n) for n in target),
            antialias=bool(params["antialias"]),
            rescale_percentiles=tuple(float(p) for p in params["rescale_percentiles"]),
            force=bool(params["force"]),
            brain_mask_mm=None if mask_mm is None else float(mask_mm),
            pose_check_max_mm=None if pose_mm is None else float(pose_mm),
            ncc_min=float(params.get("qc_ncc_threshold", cls.ncc_min)),
            head_fit_min=float(params.get("qc_head_fit_threshold", cls.head_fit_min)),
        )


@dataclass
class ImageOutcome:
    """Result for one job. ``status`` is ``"ok"`` or ``"error"``; ``volume`` is the model-ready volume.

    ``head_fit`` / ``head_margin_mm`` are the registration-independent QC of :mod:`head_qc`;
    ``pose_mm`` / ``pose_deg`` / ``pose_axis`` the rotation check of :mod:`pose_check` (NaN when
    the native image or the transform is not at hand, e.g. a CAPS made by clinica, or the pose
    check is switched off); ``pose_adopted`` is true when the first registration failed QC and a
    redone one (from the pose check's better pose or from the retry starts) passed every check (:func:`_redo`).
    """

    participant_id: str
    session_id: str
    source: str
    status: str
    ncc: float = float("nan")
    head_fit: float = float("nan")
    head_margin_mm: float = float("nan")
    pose_mm: float = float("nan")
    pose_deg: float = float("nan")
    pose_axis: str = ""
    pose_adopted: bool = False
    seconds: float = 0.0
    reused: bool = False
    error: str = ""
    volume: np.ndarray | None = None
    volume_affine: np.ndarray | None = None


def _paths(settings: PreprocessSettings, job: ImageJob) -> tuple[Path, Path, Path]:
    """(crop image, its JSON sidecar, affine) CAPS paths of ``job`` at the template resolution of ``settings``."""
    args = (settings.caps_dir, job.participant_id, job.session_id, TEMPLATE_SPACE,
            settings.t1_linear.template_resolution_mm)
    return caps.crop_image_path(*args), caps.crop_sidecar_path(*args), caps.affine_path(*args)


def _write_outputs(settings: PreprocessSettings, job: ImageJob, cropped: nib.Nifti1Image, transform_file: Path,
                   pose_adopted: bool) -> Path:
    crop_path, sidecar_path, matrix_path = _paths(settings, job)
    with atomic_path(matrix_path) as tmp:
        shutil.copyfile(transform_file, tmp)
    write_json({"PoseAdopted": bool(pose_adopted)}, sidecar_path)
    with atomic_path(crop_path) as tmp:  # written last: its presence marks the session as finished
        caps.save_nifti(cropped, tmp)
    return crop_path


def _finished_crop(settings: PreprocessSettings, job: ImageJob) -> Path | None:
    crop_path, _, matrix_path = _paths(settings, job)
    return crop_path if crop_path.is_file() and matrix_path.is_file() else None


def _was_adopted(settings: PreprocessSettings, job: ImageJob) -> bool:
    sidecar = _paths(settings, job)[1]
    return sidecar.is_file() and bool(json.loads(sidecar.read_text()).get("PoseAdopted", False))


def _register(outcome: ImageOutcome, settings: PreprocessSettings, job: ImageJob,
              image: nib.Nifti1Image) -> nib.Nifti1Image:
    """t1-linear, the CAPS outputs and the native QC of one image; returns the cropped image.

    A first registration that fails a QC check is redone (:func:`_redo`) before the image is flagged.
    """
    with scratch_directory() as workdir:
        result = t1_linear(image, settings.t1_linear, workdir)
        _write_outputs(settings, job, result.cropped, result.transform_file, pose_adopted=False)
    # scored from the written CAPS copy, as a rerun that reuses the image does: same bytes in images.tsv
    check = _score_native(outcome, settings, image, _paths(settings, job)[2])
    if _passes_qc(result.cropped, outcome, settings):
        return result.cropped
    return _redo(outcome, settings, job, image, check, result.cropped)


def _redo(outcome: ImageOutcome, settings: PreprocessSettings, job: ImageJob, image: nib.Nifti1Image,
          check: PoseCheck | None, cropped: nib.Nifti1Image) -> nib.Nifti1Image:
    """Redo the registration of an image whose pose failed QC; returns the crop that is kept.

    Two redone registrations are tried in turn: from the better pose the pose check found (when it
    found one further than ``pose_check_max_mm``), then from every retry start of the t1-linear
    config (:func:`~medaug.preprocess.t1_linear.retry_config`). The first that passes every QC check
    (:func:`_passes_qc`) replaces the CAPS outputs and sets ``outcome.pose_adopted``; when none does,
    the first pose is kept and :mod:`medaug.preprocess.cohort` flags it.
    """
    attempts = []
    if check is not None and check.best_pose is not None and check.distance_mm > settings.pose_check_max_mm:
        attempts.append((settings.t1_linear, check.best_pose))
    retry = retry_config(settings.t1_linear)
    if retry is not None:
        attempts.append((retry, None))
    for config, start in attempts:
        with scratch_directory() as workdir:
            redone = t1_linear(image, config, workdir, start_native_from_template=start)
            trial = dataclasses.replace(outcome)
            _score_native(trial, settings, image, redone.transform_file)
            if not _passes_qc(redone.cropped, trial, settings):
                continue
            _write_outputs(settings, job, redone.cropped, redone.transform_file, pose_adopted=True)
        trial.pose_adopted = True
        outcome.__dict__.update(trial.__dict__)
        return redone.cropped
    return cropped


def _passes_qc(cropped: nib.Nifti1Image, outcome: ImageOutcome, settings: PreprocessSettings) -> bool:
    """Whether a registration passes every QC check (NCC, head fit, pose check; a check not run passes).

    A redone registration must pass all of them to replace the first one: a better Mattes score on
    the pose check's coarse grid is not enough, since a redone registration can converge to a pose
    that maps the brain too large (head fit near 0).
    """
    template = cropped_template(settings.t1_linear)
    ncc = template_ncc(cropped, template.image, template.brain_mask)
    pose_ok = settings.pose_check_max_mm is None or not outcome.pose_mm > settings.pose_check_max_mm
    return bool(pose_ok and ncc >= settings.ncc_min and not outcome.head_fit < settings.head_fit_min)


def process_image(job: ImageJob, settings: PreprocessSettings) -> ImageOutcome:
    """Preprocess one image; any failure is returned as ``status="error"`` with a message naming the file."""
    start = time.perf_counter()
    outcome = ImageOutcome(job.participant_id, job.session_id, str(job.source), status="ok")
    try:
        crop_path = None if settings.force or job.from_caps else _finished_crop(settings, job)
        if job.from_caps:
            cropped, outcome.reused = load_t1w(job.source), True
        elif crop_path is not None:
            cropped, outcome.reused = load_t1w(crop_path), True
            outcome.pose_adopted = _was_adopted(settings, job)
            if Path(job.source).is_file():  # the native image is needed for the head-fit QC only
                native = load_t1w(job.source)
                check = _score_native(outcome, settings, native, _paths(settings, job)[2])
                if not outcome.pose_adopted and not _passes_qc(cropped, outcome, settings):
                    # what a fresh run does after the same first registration (a stage killed mid-way)
                    cropped = _redo(outcome, settings, job, native, check, cropped)
        else:
            cropped = _register(outcome, settings, job, load_t1w(job.source))
        template = cropped_template(settings.t1_linear)
        outcome.ncc = template_ncc(cropped, template.image, template.brain_mask)
        data = np.asarray(cropped.dataobj, dtype=np.float32)
        mask = None if settings.brain_mask_mm is None else _model_ready_mask(settings.t1_linear, settings.brain_mask_mm)
        outcome.volume = model_ready_volume(data, settings.target_shape, settings.antialias, settings.rescale_percentiles,
                                            mask)
        outcome.volume_affine = _volume_affine(cropped, data.shape, settings.target_shape)
    except InvalidImageError as err:
        outcome.status, outcome.error = "error", str(err)
    except Exception as err:  # noqa: BLE001 - one bad image must not stop the cohort
        outcome.status = "error"
        outcome.error = f"{job.source}: {type(err).__name__}: {err}".replace("\n", " ")
    outcome.seconds = round(time.perf_counter() - start, 3)
    return outcome


@functools.lru_cache(maxsize=2)
def _model_ready_mask(config: T1LinearConfig, dilation_mm: float) -> np.ndarray:
    """The template brain mask on the crop grid, dilated by ``dilation_mm``: bool, the crop's shape."""
    template = cropped_template(config)
    spacing = nib.affines.voxel_sizes(template.brain_mask.affine)
    return dilated_mask(np.asarray(template.brain_mask.dataobj), spacing, dilation_mm)


def _score_native(outcome: ImageOutcome, settings: PreprocessSettings, native: nib.Nifti1Image,
                  transform_file: Path) -> PoseCheck | None:
    """The QC scores that need the native image: head fit and, unless switched off, the pose check (returned)."""
    pose = native_from_template(transform_file)
    fit = head_fit(native, pose)
    outcome.head_fit, outcome.head_margin_mm = fit.score, fit.median_margin_mm
    if settings.pose_check_max_mm is not None:
        with scratch_directory() as workdir:
            check = pose_check(native, pose, settings.t1_linear, workdir)
        outcome.pose_mm, outcome.pose_deg, outcome.pose_axis = check.distance_mm, check.angle_deg, check.axis
        return check
    return None


def _volume_affine(cropped: nib.Nifti1Image, shape: Sequence[int], target_shape: Sequence[int] | None) -> np.ndarray:
    from medaug.preprocess.model_ready import downsampled_affine

    return cropped.affine if target_shape is None else downsampled_affine(cropped.affine, shape, target_shape)


def _init_worker(itk_threads: int, config: T1LinearConfig | None = None) -> None:
    # Must run before ITK creates its thread pool (ants is imported lazily, after this).
    os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(itk_threads)
    os.environ["OMP_NUM_THREADS"] = "1"
    if config is not None:
        cropped_template(config)  # one-off template set-up, kept out of the per-image seconds
        cropped_template(check_config(config))  # and that of the pose check's grid


def process_images(jobs: Sequence[ImageJob], settings: PreprocessSettings, n_jobs: int = 1,
                   itk_threads: int = 1) -> Iterator[tuple[int, ImageOutcome]]:
    """Yield ``(job index, outcome)`` as images finish (any order).

    ``n_jobs`` worker processes (``spawn``ed, so none inherits a running ITK thread pool) each use
    ``itk_threads`` ITK threads; ``n_jobs == 1`` runs in this process, whose ITK thread count is
    whatever ``ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS`` was when ants first ran here. With
    ``MEDAUG_CLUSTER_ADDRESS`` set, each image is one task on that Dask cluster instead
    (:mod:`medaug.cluster.executor`), with the same ``itk_threads``.
    """
    from medaug.cluster.executor import cluster_address, map_on_cluster

    if cluster_address() and len(jobs) > 1:
        setup = functools.partial(_init_worker, itk_threads, settings.t1_linear)
        yield from map_on_cluster(cluster_address(), process_image, jobs, settings, setup=setup)
        return
    if n_jobs <= 1 or len(jobs) <= 1:
        _init_worker(itk_threads, settings.t1_linear)
        for i, job in enumerate(jobs):
            yield i, process_image(job, settings)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=n_jobs, mp_context=context, initializer=_init_worker,
                             initargs=(itk_threads, settings.t1_linear)) as pool:
        futures = {pool.submit(process_image, job, settings): i for i, job in enumerate(jobs)}
        for future in as_completed(futures):
            yield futures[future], future.result()
