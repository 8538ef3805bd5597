"""Whole-head test images at 1 mm from the demo generator, with their ground-truth poses.

30 cases made by :func:`medaug.cohort.render_image`: 20 at sites with ``neck: true`` (neck, face and
shoulders at the bottom of the field of view) and 10 defaced (``deface: true``: everything in front
of and below a plane through the face zeroed), 5 of them without a neck (the head's field of view)
and 5 with one. Two of the kinds of real head that a single-start registration got wrong are among
them: defaced without a neck, and an oblique header (the voxel grid turned ``oblique_deg`` about
the left-right axis, as a scan planned along the AC-PC line stores it) with a long neck and a face.
What varies, besides:

- storage orientation: RAS, LAS, PSL (sagittal slices, as most 3D MPRAGE), LPI;
- field of view (x, y, z mm) and how far it reaches down (its centre moved along world z), from a
  256 mm cube that ends at the chin to 240 x 280 x 320 mm down to the shoulders;
- pose: rotations uniform in +-8, +-12 or +-15 degrees per axis, translations up to 15 mm;
- voxel size: 1 mm isotropic, or 1 x 1 x 1.2 mm;
- sex (head size), age and AD severity.

:func:`error_mm` measures a registration against the truth the way the other t1-linear tests do:
the distance between the true and the estimated template-to-native maps over the template brain mask.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import nibabel as nib
import numpy as np

ORIENTATIONS = ("RAS", "LAS", "PSL", "LPI")
FIELDS_OF_VIEW = (  # (x, y, z) mm, shift of the centre along world z (mm)
    ((240.0, 256.0, 300.0), -30.0),
    ((256.0, 256.0, 256.0), -15.0),
    ((200.0, 256.0, 256.0), -20.0),
    ((240.0, 280.0, 320.0), -45.0),
    ((220.0, 256.0, 280.0), -30.0),
)
ROTATIONS_DEG = (8.0, 12.0, 15.0)


@dataclass(frozen=True)
class Case:
    """One test image: how to draw it (seed) and what varies."""

    name: str
    seed: int
    orientation: str
    field_of_view_mm: tuple[float, float, float]
    fov_shift_mm: float
    rotation_deg: float
    voxel_aspect: tuple[float, float, float]
    sex: str
    age: float
    severity: float
    neck: bool = True
    deface: bool = False
    oblique_deg: float = 0.0


def cases(count: int = 30) -> list[Case]:
    """The first ``count`` whole-head cases (deterministic): 20 with a neck, then 10 defaced."""
    out = []
    for i in range(min(count, 20)):
        fov, shift = FIELDS_OF_VIEW[i % len(FIELDS_OF_VIEW)]
        orientation = ORIENTATIONS[i % len(ORIENTATIONS)]
        rotation = ROTATIONS_DEG[i % len(ROTATIONS_DEG)]
        aspect = (1.0, 1.0, 1.2) if i % 7 == 3 else (1.0, 1.0, 1.0)
        sex = "M" if i % 2 else "F"
        oblique = -18.0 if i % 5 == 3 else 0.0  # with the longest neck: field of view 320 mm
        out.append(Case(f"neck{i:02d}-{orientation}-fov{int(fov[2])}-rot{int(rotation)}{'-oblique' if oblique else ''}",
                        1800 + i, orientation, fov, shift, rotation, aspect, sex, 60.0 + (i * 7) % 30, (i % 3) * 0.6,
                        oblique_deg=oblique))
    for k in range(max(0, count - 20)):
        i = 20 + k
        neck = k % 2 == 1
        fov, shift = FIELDS_OF_VIEW[k % len(FIELDS_OF_VIEW)] if neck else ((220.0, 256.0, 256.0), 0.0)
        orientation = ORIENTATIONS[(k + 1) % len(ORIENTATIONS)]
        rotation = ROTATIONS_DEG[k % len(ROTATIONS_DEG)]
        sex = "M" if k % 2 else "F"
        kind = "neck" if neck else "head"
        out.append(Case(f"deface{i:02d}-{kind}-{orientation}-rot{int(rotation)}", 1800 + i, orientation, fov, shift,
                        rotation, (1.0, 1.0, 1.0), sex, 62.0 + (k * 9) % 28, (k % 3) * 0.6, neck=neck, deface=True))
    return out


def render_case(case: Case, cohort_params: dict, voxel_mm: float = 1.0) -> tuple[nib.Nifti1Image, np.ndarray]:
    """(native int16 image, world_from_mni 4x4) of ``case``; ``cohort_params`` is params.yaml's cohort section."""
    from medaug.cohort import CohortConfig, render_image
    from medaug.cohort.anatomy import draw_anatomy
    from medaug.cohort.atlas import load_template_atlas
    from medaug.cohort.config import SiteConfig

    config = CohortConfig.from_dict(cohort_params)
    site = SiteConfig(intensity_scale=1000.0, contrast_gamma=1.0, noise_std=0.03, bias_std=0.12,
                      orientation=case.orientation, voxel_aspect=case.voxel_aspect, neck=case.neck, deface=case.deface)
    fov = {"neck_field_of_view_mm": case.field_of_view_mm, "neck_fov_shift_mm": case.fov_shift_mm} if case.neck \
        else {"field_of_view_mm": case.field_of_view_mm}
    acquisition = dataclasses.replace(
        config.acquisition, voxel_size_mm=(voxel_mm,) * 3, rotation_deg=case.rotation_deg, translation_mm=15.0, **fov,
    )
    # not validated: the narrow fields of view may clip the scalp at the largest rotations, on purpose
    config = dataclasses.replace(config, sites={"CASE": site}, acquisition=acquisition)
    rng = np.random.default_rng(case.seed)
    anatomy = draw_anatomy(rng, case.sex, case.age, case.severity, config.anatomy)
    rendered = render_image(load_template_atlas(config.anatomy.head_shell), anatomy, "CASE", config, rng)
    affine, world_from_mni = rendered.affine, rendered.world_from_mni
    if case.oblique_deg:  # the same voxels in a scanner frame turned about x: an oblique header
        from medaug.preprocess.t1_linear import rotation_about

        turn = rotation_about(np.zeros(3), case.oblique_deg, 0.0)
        affine, world_from_mni = turn @ affine, turn @ world_from_mni
    image = nib.Nifti1Image(rendered.data, affine)
    image.header.set_xyzt_units("mm")
    return image, world_from_mni


def error_mm(world_from_mni: np.ndarray, native_from_template: np.ndarray, brain_mask: nib.Nifti1Image,
             stride: int = 50) -> tuple[float, float]:
    """(mean, max) distance (mm) between the true and estimated maps over every ``stride``-th brain-mask voxel."""
    mask = np.asarray(brain_mask.dataobj) > 0
    affine = np.asarray(brain_mask.affine, dtype=float)
    points = affine[:3, :3] @ np.argwhere(mask)[::stride].T + affine[:3, 3:4]
    difference = np.asarray(world_from_mni) - np.asarray(native_from_template)
    distance = np.linalg.norm(difference[:3, :3] @ points + difference[:3, 3:4], axis=0)
    return float(distance.mean()), float(distance.max())
