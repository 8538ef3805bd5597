"""Registration error and time of the t1-linear start strategies on whole-head images with a known pose.

    python -m benchmarks.studies.registration_starts [--cases 30] [--first 0] [--candidates single pitch3 ...]
        [--pose-check] [--real IMAGE REFERENCE.npy]

For each of the whole-head test cases (:mod:`tests.preprocess._whole_head_cases`: 20 with a neck,
10 defaced; rendered at 1 mm) the neck crop, N4 and the coarse resampling run once, then every
candidate start strategy registers from them:

- ``single``: the cranium start only (pitch 0);
- ``pitch3``: the cranium start pitched -10, 0, +10 degrees, best Mattes score kept (the default);
- ``pitch5``: pitched -20, -10, 0, +10, +20 degrees;
- ``pitch3xroll3``: pitch and roll each in -10, 0, +10 degrees (9 starts).

It prints, per case and candidate, the mean / max distance (mm) between the estimated and the true
template-to-native maps over the template brain mask and the seconds of the registration part
(starts + scoring), then per candidate the worst case, the number of cases over 2 mm mean or 4 mm
max, and the median seconds relative to ``single``. ``--real`` adds a real image scored against a
reference map (4x4 RAS, template mm -> native mm, saved with ``numpy.save``). Run with one ITK
thread: ``ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS=1``. ``--pose-check`` also runs the pose check
(:mod:`medaug.preprocess.pose_check`) on the default candidate's result and on it pitched 15 degrees.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import yaml

from medaug.preprocess import t1_linear as t1
from medaug.preprocess.fov import cranium_centre, crop_neck
from medaug.preprocess.head_qc import template_rays
from medaug.preprocess.pose_check import pose_check
from tests.preprocess._whole_head_cases import cases, error_mm, render_case

CANDIDATES = {
    "single": ((0.0,), (0.0,)),
    "pitch3": ((-10.0, 0.0, 10.0), (0.0,)),
    "pitch5": ((-20.0, -10.0, 0.0, 10.0, 20.0), (0.0,)),
    "pitch3xroll3": ((-10.0, 0.0, 10.0), (-10.0, 0.0, 10.0)),
}


def register_candidates(image: nib.Nifti1Image, config: t1.T1LinearConfig, names: list[str]
                        ) -> dict[str, tuple[np.ndarray, float]]:
    """{candidate: (template-to-native 4x4 RAS, seconds of its registration part)} for one image."""
    targets = t1._targets(config)
    cropped, _ = crop_neck(image, config.neck_crop_mm, config.neck_threshold_fraction)
    centre = cranium_centre(np.asarray(cropped.dataobj), cropped.affine, config.cranium_cap_mm,
                            config.neck_threshold_fraction)
    moving = t1._resample_isotropic(t1.n4_correct(t1.nifti_to_ants(cropped), config), config.registration_spacing_mm)
    out = {}
    for name in names:
        pitches, rolls = CANDIDATES[name]
        candidate = dataclasses.replace(config, start_pitch_deg=pitches, start_roll_deg=rolls)
        start = time.perf_counter()
        with t1.scratch_directory() as workdir:
            best = t1.register_from_starts(targets.registration_fixed, moving, targets.registration_mask, candidate,
                                           workdir, targets.cranium_centre_ras, centre)[0]
            out[name] = (t1.native_from_template(best.transform_file), time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=30)
    parser.add_argument("--first", type=int, default=0, help="skip the cases before this one")
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    parser.add_argument("--pose-check", action="store_true")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--real", nargs=2, action="append", default=[], metavar=("IMAGE", "REFERENCE"))
    args = parser.parse_args()
    params = yaml.safe_load(Path(args.params).read_text())
    config = t1.T1LinearConfig.from_dict(params["preprocess"]["t1_linear"])
    brain = t1.cropped_template(config).brain_mask
    items = [(case.name, lambda case=case: render_case(case, params["cohort"], voxel_mm=1.0))
             for case in cases(args.cases)[args.first:]]
    items += [(Path(image).name, lambda image=image, ref=ref: (nib.load(image), np.load(ref)))
              for image, ref in args.real]
    results = {name: [] for name in args.candidates}
    centre = template_rays()[0]
    for label, make in items:
        image, truth = make()
        found = register_candidates(image, config, args.candidates)
        cells = []
        for name, (estimated, seconds) in found.items():
            mean_mm, max_mm = error_mm(truth, estimated, brain)
            results[name].append((label, mean_mm, max_mm, seconds))
            cells.append(f"{name} {mean_mm:5.2f}/{max_mm:5.2f} mm {seconds:4.1f} s")
        if args.pose_check and "pitch3" in found:
            with t1.scratch_directory() as workdir:
                estimated = found["pitch3"][0]
                kept = pose_check(image, estimated, config, workdir).distance_mm
                pitched = pose_check(image, estimated @ t1.rotation_about(centre, 15.0, 0.0), config, workdir).distance_mm
            cells.append(f"pose check {kept:4.1f} mm, pitched 15 deg {pitched:4.1f} mm")
        print(f"{label:34s} " + " | ".join(cells), flush=True)
    base = np.median([r[3] for r in results[args.candidates[0]]])
    print(f"\ncandidate      worst mean  worst max  cases over 2 mm mean or 4 mm max  median time / {args.candidates[0]}")
    for name, rows in results.items():
        means, maxes = np.array([r[1] for r in rows]), np.array([r[2] for r in rows])
        bad = [r[0] for r in rows if r[1] > 2.0 or r[2] > 4.0]
        print(f"{name:14s} {means.max():8.2f}  {maxes.max():9.2f}  {len(bad):3d} {', '.join(bad)[:60]:60s} "
              f"{np.median([r[3] for r in rows]) / base:6.2f}x")


if __name__ == "__main__":
    main()
