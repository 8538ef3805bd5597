"""Runs of one classifier training set in one process against the same runs shared among worker
processes (``classify.workers``), measured in the same session. Not a test.

    python -m benchmarks.speed.classifier_workers [--trainset real] [--runs 2] [--steps 270] [--repeats 3]

Needs the demo's model-ready stacks and splits (after ``dvc repro``). Each repeat trains
``--runs`` runs of ``--trainset`` for exactly ``--steps`` steps (no early stop; validation as in
params.yaml) twice: ``classify.workers: 1`` with ``classify.threads`` intra-op threads, then
``classify.workers: 2`` with one thread each; the order alternates per repeat so that the load of
other processes hits both alike. Prints the wall time of each (the stage's own data reading and the
workers' start-up included), the medians and the ratio parallel / serial. Outputs go to a
temporary folder.
"""

from __future__ import annotations

import argparse
import copy
import logging
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks.common import REPO_ROOT
from medaug.classify.stage import run as train_trainset


def _params(base: dict, out_dir: Path, runs: int, steps: int, workers: int) -> dict:
    params = copy.deepcopy(base)
    params.update(out_dir=str(out_dir), runs=list(range(runs)), workers=workers)
    training = params["training"]
    training["budget"] = {**training["budget"], "unit": "steps", "steps": steps}
    training.update(patience=None, min_steps=0, progress=False)
    return params


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=REPO_ROOT / "params.yaml")
    parser.add_argument("--trainset", default="real")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=270)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    base = yaml.safe_load(args.params.read_text())["classify"]
    seconds: dict[str, list[float]] = {"serial": [], "workers": []}
    with tempfile.TemporaryDirectory(prefix="medaug-bench-") as scratch:
        for repeat in range(args.repeats):
            order = ("serial", "workers") if repeat % 2 == 0 else ("workers", "serial")
            for name in order:
                params = _params(base, Path(scratch) / name, args.runs, args.steps, 1 if name == "serial" else 2)
                start = time.perf_counter()
                train_trainset(params, args.trainset)
                seconds[name].append(time.perf_counter() - start)
                print(f"repeat {repeat} {name}: {seconds[name][-1]:.1f} s", flush=True)
    serial, workers = (statistics.median(seconds[k]) for k in ("serial", "workers"))
    print(f"{args.runs} runs x {args.steps} steps of {args.trainset}: median serial ({base['threads']} threads) "
          f"{serial:.1f} s, 2 workers (1 thread each) {workers:.1f} s, ratio workers / serial {workers / serial:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
