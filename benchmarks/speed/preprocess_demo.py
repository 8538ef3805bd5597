"""Old vs new settings of the demo's per-image preprocessing, measured in the same run (not a test).

    python -m benchmarks.speed.preprocess_demo --bids data/bids/demo-train [--images 20] [--old PARAMS] [--new PARAMS]

Each image runs :func:`medaug.preprocess.pool.process_image` end to end (t1-linear, the CAPS
outputs, head-fit QC, the pose check, NCC, the model-ready volume) on one core (one ITK thread,
``n_jobs`` 1), once with the ``preprocess`` block of ``--old`` and once with that of ``--new``
(default ``params.yaml``), alternating per image so that the load of other processes hits both
alike. Both run the current code: ``--old`` measures old settings, not old code. Prints per-image seconds, the medians and their ratio (new /
old), and the brain-mask mean error (mm) of each against the generator's ground-truth pose
(``derivatives/synth/.../*_groundtruth.json``) when present. Writes a JSON of everything to ``--out``.
"""

from __future__ import annotations

import argparse
import os

os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = "1"  # before ants is imported: one core
os.environ.setdefault("OMP_NUM_THREADS", "1")

import dataclasses  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from medaug.io import write_json  # noqa: E402
from medaug.preprocess import caps  # noqa: E402
from medaug.preprocess.pool import ImageJob, PreprocessSettings, _init_worker, process_image  # noqa: E402
from medaug.preprocess.t1_linear import cropped_template, native_from_template  # noqa: E402
from medaug.preprocess.template import TEMPLATE_SPACE  # noqa: E402


def _settings(params_file: Path, caps_dir: Path) -> PreprocessSettings:
    params = yaml.safe_load(params_file.read_text())["preprocess"]
    return dataclasses.replace(PreprocessSettings.from_params(params, caps_dir), force=True)


def _error_mm(bids: Path, job: ImageJob, settings: PreprocessSettings) -> float:
    """Mean distance (mm) over the template brain mask between the written pose and the ground truth."""
    truth_file = bids / "derivatives" / "synth" / job.participant_id / job.session_id / \
        f"{job.participant_id}_{job.session_id}_groundtruth.json"
    if not truth_file.is_file():
        return float("nan")
    truth = np.asarray(json.loads(truth_file.read_text())["world_from_mni"], dtype=float)
    found = native_from_template(caps.affine_path(settings.caps_dir, job.participant_id, job.session_id,
                                                  TEMPLATE_SPACE, settings.t1_linear.template_resolution_mm))
    brain = cropped_template(settings.t1_linear).brain_mask
    affine = np.asarray(brain.affine, dtype=float)
    points = affine[:3, :3] @ np.argwhere(np.asarray(brain.dataobj) > 0)[::20].T + affine[:3, 3:4]
    difference = truth - found
    return float(np.linalg.norm(difference[:3, :3] @ points + difference[:3, 3:4], axis=0).mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bids", type=Path, required=True)
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--participants", nargs="*", help="these participants instead of the first --images")
    parser.add_argument("--old", type=Path, required=True, help="params file with the old preprocess block")
    parser.add_argument("--new", type=Path, default=Path("params.yaml"))
    parser.add_argument("--out", type=Path, default=Path("results/benchmarks/preprocess_demo.json"))
    args = parser.parse_args(argv)
    paths = sorted(args.bids.glob("sub-*/ses-M000/anat/*_T1w.nii.gz"))
    if args.participants:
        paths = [p for p in paths if p.name.split("_")[0] in args.participants]
    else:
        paths = paths[:args.images]
    jobs = [ImageJob(p.name.split("_")[0], "ses-M000", p) for p in paths]
    report = {"old": str(args.old), "new": str(args.new), "images": {}}
    with tempfile.TemporaryDirectory(prefix="medaug-bench-") as scratch:
        settings = {name: _settings(path, Path(scratch) / name) for name, path in (("old", args.old), ("new", args.new))}
        for s in settings.values():
            _init_worker(1, s.t1_linear)
            cropped_template(dataclasses.replace(s.t1_linear))
        for job in jobs:
            row = {}
            for name, s in settings.items():
                outcome = process_image(job, s)
                row[name] = {"seconds": outcome.seconds, "status": outcome.status, "error_mm": _error_mm(args.bids, job, s)
                             if outcome.status == "ok" else float("nan"), "pose_mm": outcome.pose_mm,
                             "pose_adopted": outcome.pose_adopted, "ncc": round(outcome.ncc, 4), "error": outcome.error}
            report["images"][job.participant_id] = row
            print(job.participant_id, "  ".join(f"{n}: {r['seconds']:.1f} s {r['error_mm']:.2f} mm pose {r['pose_mm']:.2f}"
                                               f"{' adopted' if r['pose_adopted'] else ''}" for n, r in row.items()), flush=True)
    for name in ("old", "new"):
        report[f"median_s_{name}"] = statistics.median(r[name]["seconds"] for r in report["images"].values())
        report[f"median_error_mm_{name}"] = statistics.median(r[name]["error_mm"] for r in report["images"].values())
    report["ratio_new_over_old"] = round(report["median_s_new"] / report["median_s_old"], 3)
    print(f"median s/image old {report['median_s_old']:.2f}  new {report['median_s_new']:.2f}  "
          f"ratio {report['ratio_new_over_old']:.3f}; median error old {report['median_error_mm_old']:.2f} mm  "
          f"new {report['median_error_mm_new']:.2f} mm", flush=True)
    write_json(report, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
