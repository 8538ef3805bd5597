"""Generate the demo cohorts as BIDS raw datasets.

Determinism: every image draws its random numbers from its own ``numpy`` generator seeded by
``(seed, cohort index, participant index, session index)``, so the bytes of a file do not depend on
``n_jobs`` or on the order in which workers finish. NIfTI files are gzipped with a zero timestamp
(nibabel's default), so the same parameters give byte-identical files.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from scipy import ndimage
from tqdm import tqdm

from medaug import __version__
from medaug.bids.layout import sessions_path, t1w_path
from medaug.io import atomic_directory, write_json, write_tsv
from medaug.cohort.acquisition import (
    bias_field,
    draw_bias_coefficients,
    draw_pose,
    native_grid,
    rician_noise,
    voxel_world_coordinates,
)
from medaug.cohort.anatomy import (
    SubjectAnatomy,
    draw_anatomy,
    radial_backward_map,
    radial_maps,
    radial_reach,
    smooth_backward_map,
    subject_intensity,
)
from medaug.cohort.atlas import TemplateAtlas, load_template_atlas, within_box
from medaug.cohort.body import body_intensity, face_plane
from medaug.cohort.config import CohortConfig, CohortSpec
from medaug.cohort.demographics import SessionPlan, draw_participants, sessions_table

MARGIN_MM = 12.0
"""Points further than this outside the template head box (before the non-linear map) are air."""

HEAD_EMPTY = 0.01
"""At a site with a neck, the body is drawn where the head's intensity (WM = 1) is at most this."""

PARTICIPANTS_SIDECAR = {
    "sex": {"Description": "sex at birth", "Levels": {"M": "male", "F": "female"}},
    "age": {"Description": "age at the baseline session", "Units": "years"},
    "site": {"Description": "acquisition site (scanner)"},
    "MMSE": {"Description": "Mini-Mental State Examination at baseline", "Units": "points (0-30)"},
    "CDR": {"Description": "Clinical Dementia Rating, global score, at baseline"},
    "trajectory": {
        "Description": "ground truth of the generator: diagnosis over the sessions",
        "Levels": {"CN": "stable CN", "AD": "stable AD", "MCI": "stable MCI", "CN-MCI": "CN converting to MCI",
                   "MCI-AD": "MCI converting to AD"},
    },
    "severity": {"Description": "ground truth of the generator: AD-like atrophy at baseline (0 = none, 1 = typical AD)"},
}


@dataclass(frozen=True)
class RenderedImage:
    """A native-space T1w image and the ground truth of how it was made.

    Attributes:
        data: (X, Y, Z) int16 voxel values.
        affine: (4, 4) voxel -> world mm.
        world_from_mni: (4, 4) MNI template mm -> world mm (pose @ head scaling).
    """

    data: np.ndarray
    affine: np.ndarray
    world_from_mni: np.ndarray


def render_image(
    atlas: TemplateAtlas,
    anatomy: SubjectAnatomy,
    site_name: str,
    config: CohortConfig,
    rng: np.random.Generator,
) -> RenderedImage:
    """Render one native-space T1w image of a subject, drawing pose and noise from ``rng``."""
    site = config.sites[site_name]
    acq = config.acquisition
    pose = draw_pose(rng, acq)
    shape, affine = native_grid(rng, acq, site)
    bias_coefficients = draw_bias_coefficients(rng, site.bias_std)

    world_from_mni = pose @ np.diag([*anatomy.head_scale, 1.0])
    anat_from_world = np.linalg.inv(world_from_mni).astype(np.float32)
    world = voxel_world_coordinates(shape, affine)
    anat = anat_from_world[:3, :3] @ world + anat_from_world[:3, 3:]

    box_mm = atlas.affine[:3, :3] @ atlas.head_box.astype(np.float64) + atlas.affine[:3, 3:]
    lo, hi = box_mm.min(axis=1) - MARGIN_MM, box_mm.max(axis=1) + MARGIN_MM
    # Indices, not boolean masks: numpy gathers and scatters columns by index several times faster.
    inside = within_box(anat, lo.astype(np.float32), hi.astype(np.float32))
    kept, template_mm = template_points(atlas, anatomy, np.take(anat, inside, axis=1))
    inside = inside[kept]
    intensity, offset = subject_intensity(atlas, anatomy)
    vox_from_mm = np.linalg.inv(atlas.affine).astype(np.float32)
    template_vox = vox_from_mm[:3, :3] @ template_mm + (vox_from_mm[:3, 3] - offset)[:, None]
    values = ndimage.map_coordinates(intensity, template_vox, order=1, mode="constant", cval=0.0, prefilter=False)
    if site.neck:  # neck, face and shoulders wherever the head (brain + shell) is empty
        head = np.zeros(world.shape[1], dtype=np.float32)
        head[inside] = values
        body = body_intensity(anat)
        inside = np.flatnonzero((head > HEAD_EMPTY) | (body > 0))
        head, body = head[inside], body[inside]
        values = np.where(head > HEAD_EMPTY, head, body)
    if site.contrast_gamma != 1.0:
        values = values ** np.float32(site.contrast_gamma)
    values *= bias_field(np.take(world, inside, axis=1), bias_coefficients)

    signal = np.zeros(world.shape[1], dtype=np.float32)
    signal[inside] = values * np.float32(site.intensity_scale)
    noisy = rician_noise(signal, site.noise_std * site.intensity_scale, rng)
    if site.deface:  # zeroed after the noise: defacing tools write exact zeros
        noisy[face_plane(anat, atlas.brain_points_mm, acq.deface_angle_deg, acq.deface_margin_mm)] = 0.0
    data = np.clip(np.rint(noisy), 0, np.iinfo(np.int16).max).astype(np.int16).reshape(shape)
    return RenderedImage(data=data, affine=affine, world_from_mni=world_from_mni)


def template_points(
    atlas: TemplateAtlas, anatomy: SubjectAnatomy, points: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~medaug.cohort.anatomy.backward_map` of the anatomical ``points`` (3, N) mm that may
    get a non-zero intensity.

    The map's smooth part runs on every point; the costlier rest (radial maps, interpolation, bias)
    is left to the points near the head in template space or inside a radial map's box: the others
    are moved by no radial map and interpolate to exactly 0, so dropping them changes no voxel.

    Returns:
        kept: (M,) indices into ``points``.
        template_mm: (3, M) float32 template mm of those points.
    """
    template_mm = smooth_backward_map(points, anatomy)
    maps = radial_maps(anatomy, atlas.ventricle_centres_mm)
    keep = atlas.near_head(template_mm)
    if maps:
        keep[within_box(template_mm, *radial_reach(maps))] = True
    kept = np.flatnonzero(keep)
    return kept, radial_backward_map(np.take(template_mm, kept, axis=1), maps)


@dataclass(frozen=True)
class ImageJob:
    """Everything a worker needs to render and write one image."""

    root: str
    plan: SessionPlan
    sex: str
    site: str
    entropy: tuple[int, ...]


def _session_anatomy(job: ImageJob, config: CohortConfig) -> SubjectAnatomy:
    # The random part (head size, displacement) is seeded by the participant alone, so it is the same
    # at every session; the atrophy follows the session's age and severity.
    participant_rng = np.random.default_rng(np.random.SeedSequence(job.entropy[:-1]))
    return draw_anatomy(participant_rng, job.sex, job.plan.age, job.plan.severity, config.anatomy)


def _run_job(job: ImageJob, config: CohortConfig) -> tuple[str, str, float]:
    start = time.perf_counter()
    atlas = load_template_atlas(config.anatomy.head_shell)
    anatomy = _session_anatomy(job, config)
    image = render_image(atlas, anatomy, job.site, config, np.random.default_rng(np.random.SeedSequence(job.entropy)))
    plan = job.plan
    path = t1w_path(job.root, plan.participant_id, plan.session_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    nifti = nib.Nifti1Image(image.data, image.affine)
    nifti.header.set_xyzt_units("mm")
    nifti.header.set_qform(image.affine, code=1)
    nifti.header.set_sform(image.affine, code=1)
    nib.save(nifti, path)
    truth = {
        "world_from_mni": image.world_from_mni.round(8).tolist(),
        "template": "MNI152 ICBM 2009a symmetric (nilearn), 1 mm",
        "site": job.site,
        "severity": plan.severity,
        "head_scale": anatomy.head_scale.round(6).tolist(),
        "atrophy": {k: round(getattr(anatomy, k), 6) for k in ("gm_loss", "mtl_loss", "mtl_shrink", "ventricle_growth")},
    }
    truth_path = Path(job.root) / "derivatives" / "synth" / plan.participant_id / plan.session_id
    truth_path.mkdir(parents=True, exist_ok=True)
    (truth_path / f"{plan.participant_id}_{plan.session_id}_groundtruth.json").write_text(
        json.dumps(truth, indent=2, sort_keys=True) + "\n"
    )
    return plan.participant_id, plan.session_id, time.perf_counter() - start


def _dataset_description(spec: CohortSpec) -> dict:
    return {
        "Name": f"medaug demo cohort {spec.name} ({spec.role})",
        "BIDSVersion": "1.9.0",
        "DatasetType": "raw",
        "License": "CC0",
        "GeneratedBy": [{"Name": "medaug.cohort", "Version": __version__,
                         "Description": "synthetic T1w images built from nilearn's MNI152 2009a template"}],
    }


def generate_cohort(
    config: CohortConfig, cohort_index: int, out_root: str | os.PathLike, progress: bool = True
) -> pd.DataFrame:
    """Write one cohort as a BIDS raw dataset at ``out_root`` (atomically: all or nothing).

    Returns:
        A table of the written images: participant_id, session_id, seconds.
    """
    spec = config.cohorts[cohort_index]
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, cohort_index]))
    participants, sessions = draw_participants(spec, config, rng)
    atlas = load_template_atlas(config.anatomy.head_shell)  # build once before workers fork
    atlas.head_reach  # noqa: B018  (cached on the atlas, inherited by the workers)
    if any(config.sites[site].deface for site in spec.sites):
        atlas.brain_points_mm  # noqa: B018

    with atomic_directory(out_root) as root:
        write_json(_dataset_description(spec), root / "dataset_description.json")
        (root / "README").write_text(
            f"Synthetic demo cohort '{spec.name}' generated by medaug {__version__}; not real patients.\n"
        )
        write_tsv(participants, root / "participants.tsv")
        write_json(PARTICIPANTS_SIDECAR, root / "participants.json")
        for participant_id, plans in _by_participant(sessions).items():
            write_tsv(sessions_table(plans), sessions_path(root, participant_id))
        jobs = image_jobs(config, cohort_index, root, participants, sessions)
        results = _run_jobs(jobs, config, progress, desc=f"cohort {spec.name}")
    return pd.DataFrame(results, columns=["participant_id", "session_id", "seconds"])


def _by_participant(sessions: list[SessionPlan]) -> dict[str, list[SessionPlan]]:
    by_participant: dict[str, list[SessionPlan]] = {}
    for plan in sessions:
        by_participant.setdefault(plan.participant_id, []).append(plan)
    return by_participant


def image_jobs(
    config: CohortConfig, cohort_index: int, root: str | os.PathLike, participants: pd.DataFrame,
    sessions: list[SessionPlan],
) -> list[ImageJob]:
    """The images of one cohort to render under ``root``, from :func:`draw_participants`'s tables."""
    info = participants.set_index("participant_id")
    jobs = []
    for p_index, (participant_id, plans) in enumerate(_by_participant(sessions).items()):
        for s_index, plan in enumerate(plans):
            if config.session_images == "baseline" and plan.months != 0:
                continue
            jobs.append(ImageJob(
                root=str(root), plan=plan, sex=info.at[participant_id, "sex"],
                site=info.at[participant_id, "site"], entropy=(config.seed, cohort_index, p_index, s_index),
            ))
    return jobs


def _run_jobs(jobs: list[ImageJob], config: CohortConfig, progress: bool, desc: str) -> list:
    bar = tqdm(total=len(jobs), desc=desc, unit="image", disable=not progress)
    results = []
    if config.n_jobs == 1:
        for job in jobs:
            results.append(_run_job(job, config))
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=config.n_jobs, mp_context=get_context("fork")) as pool:
            for result in pool.map(_run_job, jobs, [config] * len(jobs), chunksize=4):
                results.append(result)
                bar.update()
    bar.close()
    return results


def generate_cohorts(
    config: CohortConfig,
    out_dir: str | os.PathLike,
    montage_dir: str | os.PathLike | None = None,
    montage_subjects: int = 3,
    progress: bool = True,
) -> dict:
    """Write every configured cohort to ``out_dir/<name>`` (and a montage each); return a summary."""
    from medaug.cohort.montage import cohort_montage

    summary = {}
    for index, spec in enumerate(config.cohorts):
        start = time.perf_counter()
        written = generate_cohort(config, index, Path(out_dir) / spec.name, progress=progress)
        if montage_dir is not None:
            cohort_montage(Path(out_dir) / spec.name, montage_subjects, Path(montage_dir) / f"{spec.name}_montage.png")
        summary[spec.name] = {
            "role": spec.role,
            "participants": dict(spec.groups),
            "images": int(len(written)),
            "median_seconds_per_image": round(float(written.seconds.median()), 3),
            "wall_seconds": round(time.perf_counter() - start, 1),
        }
    return summary
