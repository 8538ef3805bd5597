"""Old vs new demo-cohort rendering (stage ``cohort@demo``), per image, measured in the same run (not a test).

    OMP_NUM_THREADS=1 python -m benchmarks.speed.cohort [--images 12] [--cohort 0] [--params params.yaml]

Renders the first ``--images`` baseline images of cohort ``--cohort`` of ``params.yaml``'s ``cohort``
section in this one process, each once with the old code (kept verbatim below: the renderer of
commit fdae9eb, its backward map with Gaussian-weighted radial maps over every point, its einsum
cosine series and its brain points recomputed per defaced image) and once with the current
:func:`medaug.cohort.generate.render_image`, alternating which goes first, and writes each to a
scratch NIfTI with nibabel as the stage does. The new code's per-atlas caches (``head_reach``,
``brain_points_mm``) are filled before the loop, as the stage fills them once before its workers
fork; their one-off cost is printed. Prints per-image CPU seconds (``time.process_time``:
less sensitive than wall time to other jobs on the machine), wall seconds, the old / new medians and
the ratio new / old, and how the int16 volumes differ (max abs difference, fraction of voxels).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import yaml
from scipy import ndimage

from medaug.cohort.acquisition import (
    bias_field,
    draw_bias_coefficients,
    draw_pose,
    native_grid,
    rician_noise,
    voxel_world_coordinates,
)
from medaug.cohort.anatomy import N_COSINES, subject_intensity
from medaug.cohort.atlas import (
    HIPPOCAMPUS_SHRINK_SD_MM,
    MTL_REGIONS,
    VENTRICLE_SD_MM,
    gaussian_weight,
    load_template_atlas,
)
from medaug.cohort.body import body_intensity, face_plane
from medaug.cohort.config import CohortConfig
from medaug.cohort.demographics import draw_participants
from medaug.cohort.generate import HEAD_EMPTY, MARGIN_MM, RenderedImage, _session_anatomy, image_jobs, render_image


# ---- the old code (commit fdae9eb), verbatim but for the names ----
def _old_smooth_displacement(points, anatomy):
    freqs = np.arange(1, N_COSINES + 1, dtype=np.float32) * np.float32(2 * np.pi / (N_COSINES * anatomy.wavelength_mm))
    basis = [
        np.cos(freqs[:, None] * points[axis][None, :] + anatomy.displacement_phases[axis][:, None])
        for axis in range(3)
    ]
    out = np.zeros_like(points, dtype=np.float32)
    for component in range(3):
        coeff = anatomy.displacement_coefficients[component]
        inner = np.einsum("abc,cn->abn", coeff, basis[2])
        inner = np.einsum("abn,bn->an", inner, basis[1])
        out[component] = np.einsum("an,an->n", inner, basis[0])
    return out


def _old_radial(points, centre, sd, gain):
    centre = np.asarray(centre, dtype=np.float32)[:, None]
    weight = gaussian_weight(points, centre[:, 0], sd) * np.float32(gain)
    return points + weight[None, :] * (points - centre)


def old_backward_map(points, anatomy, ventricle_centres_mm):
    """The untruncated backward map of commit fdae9eb: (3, N) mm -> (3, N) float32 mm."""
    out = points.astype(np.float32, copy=True)
    out -= _old_smooth_displacement(out, anatomy)
    if anatomy.ventricle_growth > 0:
        for centre in ventricle_centres_mm:
            out = _old_radial(out, centre, VENTRICLE_SD_MM, -anatomy.ventricle_growth)
    if anatomy.mtl_shrink > 0:
        hx, hy, hz = MTL_REGIONS["hippocampus"][0]
        for side in (-1.0, 1.0):
            out = _old_radial(out, (side * hx, hy, hz), HIPPOCAMPUS_SHRINK_SD_MM, anatomy.mtl_shrink)
    return out


def _old_brain_points(atlas):
    voxels = np.argwhere(atlas.brain_mask).T.astype(np.float32)
    return atlas.affine[:3, :3].astype(np.float32) @ voxels + atlas.affine[:3, 3:4].astype(np.float32)


def old_render_image(atlas, anatomy, site_name, config, rng):
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
    inside = np.all((anat > lo[:, None].astype(np.float32)) & (anat < hi[:, None].astype(np.float32)), axis=0)

    template_mm = old_backward_map(anat[:, inside], anatomy, atlas.ventricle_centres_mm)
    intensity, offset = subject_intensity(atlas, anatomy)
    vox_from_mm = np.linalg.inv(atlas.affine).astype(np.float32)
    template_vox = vox_from_mm[:3, :3] @ template_mm + (vox_from_mm[:3, 3] - offset)[:, None]
    values = ndimage.map_coordinates(intensity, template_vox, order=1, mode="constant", cval=0.0, prefilter=False)
    if site.neck:
        head = np.zeros(world.shape[1], dtype=np.float32)
        head[inside] = values
        body = body_intensity(anat)
        inside = (head > HEAD_EMPTY) | (body > 0)
        values = np.where(head[inside] > HEAD_EMPTY, head[inside], body[inside])
    if site.contrast_gamma != 1.0:
        values = values ** np.float32(site.contrast_gamma)
    values *= bias_field(world[:, inside], bias_coefficients)

    signal = np.zeros(world.shape[1], dtype=np.float32)
    signal[inside] = values * np.float32(site.intensity_scale)
    noisy = rician_noise(signal, site.noise_std * site.intensity_scale, rng)
    if site.deface:
        noisy[face_plane(anat, _old_brain_points(atlas), acq.deface_angle_deg, acq.deface_margin_mm)] = 0.0
    data = np.clip(np.rint(noisy), 0, np.iinfo(np.int16).max).astype(np.int16).reshape(shape)
    return RenderedImage(data=data, affine=affine, world_from_mni=world_from_mni)
# ---- end of the old code ----


def _render_and_save(render, atlas, job, config, path: Path) -> tuple[np.ndarray, float, float]:
    """Render ``job`` with ``render`` and gzip it to ``path`` as the stage does: (data, CPU s, wall s)."""
    cpu, wall = time.process_time(), time.perf_counter()
    anatomy = _session_anatomy(job, config)
    image = render(atlas, anatomy, job.site, config, np.random.default_rng(np.random.SeedSequence(job.entropy)))
    nifti = nib.Nifti1Image(image.data, image.affine)
    nifti.header.set_qform(image.affine, code=1)
    nifti.header.set_sform(image.affine, code=1)
    nib.save(nifti, path)
    return image.data, time.process_time() - cpu, time.perf_counter() - wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--cohort", type=int, default=0, help="index of the cohort in params.yaml")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    config = CohortConfig.from_dict(yaml.safe_load(args.params.read_text())["cohort"])
    spec = config.cohorts[args.cohort]
    participants, sessions = draw_participants(
        spec, config, np.random.default_rng(np.random.SeedSequence([config.seed, args.cohort])))
    atlas = load_template_atlas(config.anatomy.head_shell)
    start = time.process_time()
    atlas.head_reach, atlas.brain_points_mm  # noqa: B018  (the stage computes these once, before its workers fork)
    print(f"once per cohort (new): head_reach and brain_points_mm {time.process_time() - start:.2f} s CPU")
    renderers = {"old": old_render_image, "new": render_image}
    seconds: dict[str, dict[str, list[float]]] = {name: {"cpu": [], "wall": []} for name in renderers}
    max_diff, differing, voxels = 0, 0, 0
    with tempfile.TemporaryDirectory(prefix="medaug-bench-cohort-") as scratch:
        jobs = image_jobs(config, args.cohort, scratch, participants, sessions)[:args.images]
        for index, job in enumerate(jobs):
            order = list(renderers) if index % 2 == 0 else list(renderers)[::-1]
            data = {}
            for name in order:
                path = Path(scratch) / f"{name}.nii.gz"
                data[name], cpu, wall = _render_and_save(renderers[name], atlas, job, config, path)
                seconds[name]["cpu"].append(cpu)
                seconds[name]["wall"].append(wall)
            diff = np.abs(data["old"].astype(np.int32) - data["new"])
            max_diff = max(max_diff, int(diff.max()))
            differing, voxels = differing + int((diff > 0).sum()), voxels + diff.size
            times = "  ".join(f"{n}: {seconds[n]['cpu'][-1]:.2f} s CPU {seconds[n]['wall'][-1]:.2f} s wall" for n in renderers)
            print(f"{job.plan.participant_id} {job.site}  {times}  max |old - new| {int(diff.max())}, "
                  f"{np.mean(diff > 0):.2e} of voxels differ", flush=True)
    for kind in ("cpu", "wall"):
        old, new = (statistics.median(seconds[n][kind]) for n in renderers)
        print(f"median {kind} s/image: old {old:.3f}  new {new:.3f}  ratio new/old {new / old:.3f}  "
              f"(speed-up {old / new:.2f}x)")
    print(f"{len(jobs)} images: max |old - new| {max_diff} (int16 units), "
          f"{differing / voxels:.2e} of {voxels} voxels differ")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
