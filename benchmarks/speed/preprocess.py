"""Benchmark of t1-linear: median wall seconds per subject on one core (not a test).

    python -m benchmarks.speed.preprocess [--voxel-mm 1 2] [--subjects 3] [--bids DIR] [--out results/benchmarks/preprocess.json]

Images come from a demo BIDS dataset given with ``--bids`` (e.g. generated at 1 mm by the cohort
stage), or else from the synthetic whole-head fixture of the tests (a posed, biased, noisy MNI head,
field of view 176 x 256 x 256 mm like clinica's reference subject). Every run is timed from the
decoded image to the cropped result (N4 + registration + resampling), with one ITK thread, after a
warm-up that loads the template. Writes a JSON of the per-subject seconds and the medians.
"""

from __future__ import annotations

import argparse
import os

os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = "1"  # before ants is imported: one core
os.environ.setdefault("OMP_NUM_THREADS", "1")

import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from medaug.io import write_json  # noqa: E402
from medaug.preprocess.t1_linear import T1LinearConfig, cropped_template, scratch_directory, t1_linear  # noqa: E402
from medaug.preprocess.validate import load_t1w  # noqa: E402


def _images(voxel_mm: float, subjects: int, bids: Path | None):
    if bids is not None:
        for path in sorted(bids.glob("sub-*/ses-M000/anat/*_T1w.nii.gz"))[:subjects]:
            yield path.name, load_t1w(path)
        return
    from tests.preprocess._fixtures import synthetic_t1w

    for seed in range(subjects):
        image, _ = synthetic_t1w(100 + seed, voxel_mm=voxel_mm, fov_mm=(176.0, 256.0, 256.0), flip_x=seed % 2 == 1)
        yield f"synthetic-{seed}", image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voxel-mm", type=float, nargs="+", default=[1.0, 2.0])
    parser.add_argument("--subjects", type=int, default=3)
    parser.add_argument("--bids", type=Path, help="read images from this BIDS dataset instead of the fixture")
    parser.add_argument("--out", type=Path, default=Path("results/benchmarks/preprocess.json"))
    args = parser.parse_args(argv)
    config = T1LinearConfig()
    cropped_template(config)  # warm-up: template loading is a one-off per worker
    report = {"config": repr(config), "itk_threads": 1, "runs": {}}
    for voxel_mm in ([None] if args.bids else args.voxel_mm):
        seconds = {}
        for name, image in _images(voxel_mm or 0.0, args.subjects, args.bids):
            start = time.perf_counter()
            with scratch_directory() as workdir:
                t1_linear(image, config, workdir)
            seconds[name] = round(time.perf_counter() - start, 2)
            print(f"{name} {image.shape}: {seconds[name]:.1f} s", flush=True)
        key = str(args.bids) if args.bids else f"synthetic {voxel_mm:g} mm"
        report["runs"][key] = {"seconds": seconds, "median_s": statistics.median(seconds.values())}
        print(f"{key}: median {report['runs'][key]['median_s']:.1f} s per subject", flush=True)
    write_json(report, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
