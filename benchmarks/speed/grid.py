"""The classifier grid serially (``dvc repro``) against the grid runner on a local Dask cluster, and an
estimate of the ADNI/AIBL study on N GPUs.

    # in a scratch clone where `dvc repro` has run (e.g. the tiny profile), never in your working copy:
    python -m benchmarks.speed.grid measure --repeats 3 --workers 2
    python -m benchmarks.speed.grid estimate --profile profiles/adni-aibl.yaml --gpus 1 4 8 16 32 64 128

``measure`` deletes ``classify.out_dir`` before every timed run, so that exactly the grid's stages
(``train_classifier@*``, ``train_classifier_synthetic@*``) are stale; it then times ``dvc repro`` of
those stages and ``python -m medaug.cluster run`` of the same stages (the local cluster's start-up
included), alternately, and checks that every file they write is byte-identical between the two.

``estimate`` is arithmetic, not a measurement: each run's time is ``epochs x images per epoch /
rate`` (the rate measured for Conv5_FC3 A2 on one H200, about 470 volumes/s), with the number
of real training images given on the command line (ADNI's stable CN + AD train split); the runs are
then packed longest first onto N GPUs (LPT), and serial / packed is the speed-up.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

GRID_STAGES = ("train_classifier", "train_classifier_synthetic")


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _timed(command: list[str], env: dict[str, str], log: Path | None) -> float:
    start = time.perf_counter()
    with open(log or os.devnull, "w") as out:
        subprocess.run(command, check=True, env=env, stdout=out, stderr=subprocess.STDOUT)
    return time.perf_counter() - start


def measure(args: argparse.Namespace) -> None:
    """Serial ``dvc repro`` vs ``medaug cluster run --workers N`` on the grid stages, alternately."""
    params = yaml.safe_load(Path("params.yaml").read_text())
    out_dir = Path(params["classify"]["out_dir"])
    n_stages = len(params["classify"]["runs"]) * sum(len(params["classify"][g] or {})
                                                    for g in ("real_trainsets", "synthetic_trainsets"))
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "OMP_NUM_THREADS": "1"}
    if args.log_dir:
        Path(args.log_dir).mkdir(parents=True, exist_ok=True)
    commands = {
        "serial": ["dvc", "repro", *GRID_STAGES],
        f"grid-{args.workers}": [sys.executable, "-m", "medaug.cluster", "run", *GRID_STAGES, "--workers", str(args.workers)],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    digests: dict[str, dict[str, str]] = {}
    for repeat in range(args.repeats):
        for name, command in commands.items():
            shutil.rmtree(out_dir, ignore_errors=True)
            log = Path(args.log_dir) / f"{name}-{repeat}.log" if args.log_dir else None
            seconds = _timed(command, env, log)
            times[name].append(seconds)
            digest = _tree_digest(out_dir)
            if digests.setdefault(name, digest) != digest or digest != next(iter(digests.values())):
                raise SystemExit(f"{name}, repeat {repeat}: outputs differ from the first run's")
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            print(f"repeat {repeat}: {name:8s} {seconds:7.1f} s   (load average after it: {load})", flush=True)
    serial, grid = (statistics.median(t) for t in times.values())
    print(f"\n{n_stages} grid stages, {len(next(iter(digests.values())))} output files byte-identical "
          f"serial vs grid ({args.repeats} repeats, {os.cpu_count()} CPUs)")
    for name, values in times.items():
        print(f"{name:8s} median {statistics.median(values):7.1f} s  (runs: {', '.join(f'{v:.1f}' for v in values)})")
    print(f"speed-up serial / grid-{args.workers}: {serial / grid:.2f}")


def run_hours(profile: dict, real_train: int, rate: float) -> list[float]:
    """Estimated GPU-hours of every run of the profile's classifier grid (training passes only)."""
    classify = profile["classify"]
    epochs = classify["training"]["budget"]["epochs"]
    hours = []
    for group in ("real_trainsets", "synthetic_trainsets"):
        for spec in (classify.get(group) or {}).values():
            spec = spec or {}
            images = (real_train if spec.get("real") else 0) + 2 * int(spec.get("synthetic") or 0)
            hours += [epochs * images / rate / 3600] * len(classify["runs"])
    return hours


def lpt_makespan(durations: list[float], machines: int) -> float:
    """Longest-processing-time-first packing of independent tasks onto identical machines."""
    loads = [0.0] * machines
    for duration in sorted(durations, reverse=True):
        loads[loads.index(min(loads))] += duration
    return max(loads)


def estimate(args: argparse.Namespace) -> None:
    """Print the study's serial GPU-hours and its wall time on N GPUs (an estimate, see the module doc)."""
    profile = yaml.safe_load(Path(args.profile).read_text())
    hours = run_hours(profile, args.real_train, args.rate)
    total = sum(hours)
    print(f"{len(hours)} runs, {args.rate:g} volumes/s, {args.real_train} real training images (estimate):")
    print(f"serial: {total:.1f} GPU-hours; longest run {max(hours):.2f} h; shortest {min(hours):.3f} h")
    print("GPUs  wall h  speed-up  efficiency")
    for gpus in args.gpus:
        wall = lpt_makespan(hours, gpus)
        print(f"{gpus:4d}  {wall:6.1f}  {total / wall:8.1f}  {total / wall / gpus:9.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure", help="time serial dvc repro vs the grid runner on this machine")
    m.add_argument("--repeats", type=int, default=3)
    m.add_argument("--workers", type=int, default=2)
    m.add_argument("--log-dir", default=None, help="write each timed command's output here")
    m.set_defaults(func=measure)
    e = sub.add_parser("estimate", help="the ADNI/AIBL grid on N GPUs, from the per-volume rate")
    e.add_argument("--profile", default="profiles/adni-aibl.yaml")
    e.add_argument("--rate", type=float, default=470.0, help="training volumes/s on one GPU (H200, Conv5_FC3 A2)")
    e.add_argument("--real-train", type=int, default=453, help="real training images (ADNI stable CN + AD train split)")
    e.add_argument("--gpus", type=int, nargs="+", default=[1, 4, 8, 16, 32, 64, 128])
    e.set_defaults(func=estimate)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
