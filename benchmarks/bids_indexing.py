"""Indexing time of a BIDS raw dataset with pybids (medaug.bids.index) and of the whole ``medaug init``
survey, on a generated dataset of N T1w images.

    python benchmarks/bids_indexing.py [--images 1000] [--repeats 3] [--out /tmp/bids_indexing]

Writes N/2 participants with two T1w images each (``acq-`` / ``run-`` entities, ``.nii.gz``, 8x9x10
voxels: the index reads names and headers, not voxels), then times :func:`medaug.bids.index.index_t1w`
and :func:`medaug.ingest.source.survey` (which also reads every chosen image's header). Prints the
median over repeats in seconds and in milliseconds per image; the figure scales with the file
count, so the ratio to a 100-image dataset is printed too.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from medaug.bids.index import index_t1w  # noqa: E402
from medaug.ingest.source import BIDSSource, survey  # noqa: E402
from tests.bids.fixtures import write_bids  # noqa: E402


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(root: Path, n_images: int, repeats: int) -> tuple[float, float]:
    shutil.rmtree(root, ignore_errors=True)
    per_group = n_images // 4
    write_bids(root, groups={"patient": per_group, "control": n_images // 2 - per_group - 1}, extension=".nii.gz")
    source = BIDSSource(name="bench", path=root, label_column="group",
                        labels={"patient": "patient", "control": "control"})
    return _median_seconds(lambda: index_t1w(root), repeats), _median_seconds(lambda: survey(source), repeats)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bids_indexing"))
    args = parser.parse_args()
    small_index, small_survey = measure(args.out / "small", 100, args.repeats)
    index_s, survey_s = measure(args.out / "large", args.images, args.repeats)
    print(f"{args.images} images (+2 .bidsignore'd), median of {args.repeats}:")
    print(f"  pybids index : {index_s:.2f} s ({1000 * index_s / args.images:.1f} ms per image); "
          f"{index_s / small_index:.1f}x the 100-image time")
    print(f"  init survey  : {survey_s:.2f} s ({1000 * survey_s / args.images:.1f} ms per image); "
          f"{survey_s / small_survey:.1f}x the 100-image time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
