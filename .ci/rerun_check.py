"""CI, after `dvc repro` in this working tree: a forced rerun must write the same bytes.

Reads the output hashes of dvc.lock, runs `dvc repro --force` again, and compares. Outputs whose
content is a record of the run itself are left out: everything under metrics/ (timings, the
preprocessing run summary) and the report (it quotes those timings). Exits 1 listing every other
output whose hash changed, so a wall time or an unseeded draw that leaks into a data output is caught.

    python .ci/rerun_check.py [--lock dvc.lock]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import yaml

RUN_RECORDS = ("metrics/", "results/report")


def current_stages() -> set[str]:
    """The stages of dvc.yaml with these parameters (``foreach`` expanded)."""
    listing = subprocess.run(["dvc", "stage", "list", "--name-only"], check=True, capture_output=True, text=True)
    return set(listing.stdout.split())


def output_hashes(lock: Path, stages: set[str]) -> dict[str, str]:
    """path -> md5 of every output of ``stages`` in ``lock`` (directories by their listing's md5).

    The lock may also hold entries of stages these parameters do not define (another profile's
    runs, for example); they are left out.
    """
    locked = (yaml.safe_load(lock.read_text()) or {}).get("stages", {})
    hashes = {}
    for name, stage in locked.items():
        if name not in stages:
            continue
        for out in stage.get("outs", []):
            if not out["path"].startswith(RUN_RECORDS):
                hashes[out["path"]] = out.get("md5", "")
    return hashes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", default="dvc.lock")
    args = parser.parse_args(argv)
    lock = Path(args.lock)
    stages = current_stages()
    before = output_hashes(lock, stages)
    if not before:
        print(f"{lock}: no stage outputs; run dvc repro first", file=sys.stderr)
        return 1
    subprocess.run(["dvc", "repro", "--force"], check=True)
    after = output_hashes(lock, stages)
    changed = sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))
    for path in changed:
        print(f"changed on a forced rerun: {path} ({before.get(path)} -> {after.get(path)})", file=sys.stderr)
    print(f"rerun check: {len(before) - len(changed)} of {len(before)} outputs byte-identical")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
