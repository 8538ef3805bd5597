"""Difficulty calibration and speed of the demo-cohort generator (a script, not a timed test).

Difficulty: a logistic regression on template-aligned volumes down-sampled to 4 mm (aligned with
the generator's known pose, so no registration error), trained on ``--n-train`` stable CN and
stable AD participants of the training cohort, must reach a balanced accuracy between 0.60 and
0.85 on the remaining training-cohort participants and on the external cohort: a trivially
separable or pure-noise demo would defeat its purpose.

Speed: median seconds to generate and write one subject on one core.

    python -m benchmarks.studies.cohort_calibration                    # uses data/bids from `dvc repro cohort`
    python -m benchmarks.studies.cohort_calibration --generate         # generates the cohorts into a temp dir first
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import balanced_accuracy_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from medaug.bids.layout import read_participants, t1w_path  # noqa: E402
from medaug.cohort import CohortConfig, generate_cohort  # noqa: E402
from medaug.cohort.align import resample_to_template  # noqa: E402
from medaug.cohort.anatomy import draw_anatomy  # noqa: E402
from medaug.cohort.atlas import load_template_atlas  # noqa: E402
from medaug.cohort.generate import render_image  # noqa: E402

TARGET = (0.60, 0.85)


def aligned_features(root: Path, voxel_mm: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Stable CN (0) / AD (1) baseline volumes of a cohort, aligned with the known pose, z-scored in the brain."""
    atlas = load_template_atlas(True)
    mask, _ = resample_to_template(atlas.brain_mask.astype(np.float32), atlas.affine, np.eye(4), voxel_mm)
    inside = mask > 0.5
    participants = read_participants(root)
    participants = participants[participants.trajectory.isin(["CN", "AD"])]
    features, labels = [], []
    for row in participants.itertuples():
        image = nib.load(t1w_path(root, row.participant_id, "ses-M000"))
        truth = root / "derivatives" / "synth" / row.participant_id / "ses-M000" / f"{row.participant_id}_ses-M000_groundtruth.json"
        world_from_mni = np.asarray(json.loads(truth.read_text())["world_from_mni"])
        volume, _ = resample_to_template(image.get_fdata(dtype=np.float32), image.affine, world_from_mni, voxel_mm)
        values = volume[inside]
        features.append((values - values.mean()) / values.std())
        labels.append(int(row.trajectory == "AD"))
    return np.asarray(features), np.asarray(labels), participants.participant_id.tolist()


def calibrate(bids_dir: Path, train: str, external: str, n_train: int, voxel_mm: float, seed: int, c: float) -> dict:
    x, y, _ = aligned_features(bids_dir / train, voxel_mm)
    x_ext, y_ext, _ = aligned_features(bids_dir / external, voxel_mm)
    rng = np.random.default_rng(seed)
    chosen = np.concatenate([rng.choice(np.flatnonzero(y == label), n_train, replace=False) for label in (0, 1)])
    rest = np.setdiff1d(np.arange(len(y)), chosen)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    model.fit(x[chosen], y[chosen])
    return {
        "n_train_per_label": n_train,
        "n_held_out": int(len(rest)),
        "n_external": int(len(y_ext)),
        "balanced_accuracy_held_out": round(float(balanced_accuracy_score(y[rest], model.predict(x[rest]))), 3),
        "balanced_accuracy_external": round(float(balanced_accuracy_score(y_ext, model.predict(x_ext))), 3),
    }


def generation_seconds(params: dict, n_subjects: int) -> list[float]:
    """Seconds to render and write one subject (atlas already loaded), single thread."""
    config = CohortConfig.from_dict(params)
    atlas = load_template_atlas(config.anatomy.head_shell)
    site = config.cohorts[0].sites[0]
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(n_subjects):
            start = time.perf_counter()
            rng = np.random.default_rng(index)
            anatomy = draw_anatomy(rng, "F", 74.0, 1.0, config.anatomy)
            image = render_image(atlas, anatomy, site, config, rng)
            nib.save(nib.Nifti1Image(image.data, image.affine), Path(tmp) / f"{index}.nii.gz")
            times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--bids-dir", default=None, help="default: the cohort section's out_dir")
    parser.add_argument("--generate", action="store_true", help="generate the cohorts into a temporary directory first")
    parser.add_argument("--n-train", type=int, default=50, help="training participants per label")
    parser.add_argument("--voxel-mm", type=float, default=4.0)
    parser.add_argument("--C", type=float, default=1.0, help="inverse L2 penalty of the logistic regression")
    parser.add_argument("--seeds", type=int, default=5, help="training draws; the median is reported")
    parser.add_argument("--timing-subjects", type=int, default=7)
    args = parser.parse_args(argv)

    params = yaml.safe_load(Path(args.params).read_text())["cohort"]
    config = CohortConfig.from_dict(params)
    train = next(s.name for s in config.cohorts if s.role == "training")
    external = next(s.name for s in config.cohorts if s.role == "external")

    tmp = None
    if args.generate:
        tmp = tempfile.TemporaryDirectory()
        bids_dir = Path(tmp.name)
        for index, _ in enumerate(config.cohorts):
            generate_cohort(config, index, bids_dir / config.cohorts[index].name)
    else:
        bids_dir = Path(args.bids_dir or params["out_dir"])
        if not (bids_dir / train).is_dir():
            print(f"error: {bids_dir / train} not found: run `dvc repro cohort` or pass --generate", file=sys.stderr)
            return 2

    runs = [calibrate(bids_dir, train, external, args.n_train, args.voxel_mm, seed, args.C) for seed in range(args.seeds)]
    held = [r["balanced_accuracy_held_out"] for r in runs]
    ext = [r["balanced_accuracy_external"] for r in runs]
    print(f"difficulty ({args.seeds} draws of {args.n_train} per label, logistic regression at {args.voxel_mm} mm, C={args.C}):")
    print(f"  balanced accuracy, held-out training cohort: median {np.median(held):.3f}  (all: {held})")
    print(f"  balanced accuracy, external cohort:          median {np.median(ext):.3f}  (all: {ext})")
    in_range = all(TARGET[0] <= float(np.median(v)) <= TARGET[1] for v in (held, ext))
    print(f"  target {TARGET[0]:.2f}-{TARGET[1]:.2f}: {'in range' if in_range else 'OUT OF RANGE'}")

    seconds = generation_seconds(params, args.timing_subjects)
    voxel = config.acquisition.voxel_size_mm
    print(f"generation: median {np.median(seconds):.2f} s per subject on one core ({voxel} mm voxels, "
          f"{args.timing_subjects} subjects; goal <= 3 s)")
    if tmp is not None:
        tmp.cleanup()
    return 0 if in_range else 1


if __name__ == "__main__":
    sys.exit(main())
