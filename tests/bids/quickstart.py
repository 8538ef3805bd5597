"""The README's "Augment your own cohort" commands and the quirky BIDS dataset they are tested on."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import pandas as pd

README_SECTION = "## Augment your own cohort"
DATASET_PLACEHOLDER = "path/to/your/bids"
#: the demo generator's trajectories as the three groups of the quirky dataset (prodromal: too few)
GROUPS = {"AD": "patient", "CN": "control", "MCI": "prodromal", "CN-MCI": "prodromal", "MCI-AD": "prodromal"}


def readme_commands(readme: Path) -> list[str]:
    """The commands of the ```bash block under :data:`README_SECTION` (comments and blank lines dropped)."""
    text = readme.read_text()
    start = text.index(README_SECTION + "\n")
    block = re.search(r"```bash\n(.*?)```", text[start:], flags=re.S)
    if block is None:
        raise ValueError(f"{readme}: no ```bash block under {README_SECTION!r}")
    lines = [line.split(" #")[0].strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def quirky_from_demo(demo_root: Path, out: Path, groups: dict[str, str] | None = None) -> Path:
    """Re-lay a generated demo BIDS dataset as an OpenNeuro-style one: no sessions, ``.nii``, a
    ``group`` column with three values in participants.tsv (and participants.json levels), ``acq-`` /
    ``run-`` / ``rec-`` entities with two T1w images per participant, one participant without a label,
    and a ``.bidsignore``d folder. ``groups``: trajectory -> group value (default :data:`GROUPS`)."""
    groups = GROUPS if groups is None else groups
    participants = pd.read_csv(demo_root / "participants.tsv", sep="\t")
    out.mkdir(parents=True)
    (out / "dataset_description.json").write_text(json.dumps({"Name": "quirky", "BIDSVersion": "1.9.0",
                                                               "DatasetType": "raw"}))
    levels = {"AD": "Alzheimer's disease", "CN": "healthy control", "MCI": "mild cognitive impairment"}
    (out / "participants.json").write_text(json.dumps({"group": {"Description": "study arm", "Levels": {
        groups[trajectory]: meaning for trajectory, meaning in levels.items()}}}))
    rows = []
    for k, row in enumerate(participants.itertuples(index=False)):
        source = demo_root / row.participant_id / "ses-M000" / "anat" / f"{row.participant_id}_ses-M000_T1w.nii.gz"
        if not source.is_file():
            continue
        pid = f"sub-{k + 1:02d}"
        group = "n/a" if k == 0 else groups[row.trajectory]
        rows.append({"participant_id": pid, "group": group, "age": row.age, "sex": row.sex})
        anat = out / pid / "anat"
        anat.mkdir(parents=True)
        names = ([f"{pid}_acq-mprage_run-1_T1w", f"{pid}_acq-mprage_run-2_T1w"] if k % 2 == 0
                 else [f"{pid}_T1w", f"{pid}_rec-norm_T1w"])
        data = gzip.decompress(source.read_bytes())
        for name in names:
            (anat / f"{name}.nii").write_bytes(data)
    pd.DataFrame(rows).to_csv(out / "participants.tsv", sep="\t", index=False, na_rep="n/a")
    (out / "scratch").mkdir()
    (out / "scratch" / "notes.txt").write_text("not part of the dataset\n")
    (out / ".bidsignore").write_text("scratch/\n")
    return out


def copy_repository(root: Path, target: Path, tracked: list[str]) -> Path:
    """Copy the tracked files of the repository at ``root`` to ``target``."""
    for name in tracked:
        source = root / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target
