"""Small BIDS raw datasets with the quirks of real ones, built in the tests.

:func:`write_bids` writes ``participants.tsv`` (a ``group`` column), ``participants.json`` with
level descriptions, T1w images named with ``acq-`` / ``run-`` / ``rec-`` entities, ``.nii`` or
``.nii.gz``, with or without a ``ses-`` level, and a ``.bidsignore``. The volumes are small random
arrays unless ``volume`` returns real ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import nibabel as nib
import numpy as np

DEFAULT_GROUPS = {"patient": 6, "control": 6, "prodromal": 2}


def random_volume(index: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(index)
    return rng.integers(0, 1000, size=(8, 9, 10)).astype(np.int16), np.diag([2.0, 2.0, 2.0, 1.0])


def save_image(volume: np.ndarray, affine: np.ndarray, path: Path, sform_code: int = 1) -> Path:
    image = nib.Nifti1Image(volume, affine)
    image.set_sform(affine, code=sform_code)
    image.set_qform(affine, code=sform_code)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(image, str(path))
    return path


def write_bids(root: Path, groups: Mapping[str, int] = DEFAULT_GROUPS, sessions: bool = False,
               extension: str = ".nii", volume: Callable[[int], tuple[np.ndarray, np.ndarray]] = random_volume,
               ) -> dict[str, list[Path]]:
    """A BIDS dataset under ``root``; returns participant_id -> its T1w files.

    Participant k gets ``acq-mprage_run-1`` and ``acq-mprage_run-2`` images when k is even, one plain
    image and one ``rec-norm`` image when k is odd; one extra participant has no label (``n/a``), and
    ``sub-ignored`` sits in a folder listed in ``.bidsignore``.
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset_description.json").write_text(json.dumps({"Name": "quirky", "BIDSVersion": "1.9.0",
                                                                "DatasetType": "raw"}))
    (root / "participants.json").write_text(json.dumps({"group": {"Description": "study arm", "Levels": {
        g: f"the {g} arm" for g in groups}}}))
    rows, files, k = [], {}, 0
    entries = [(g, i) for g, n in groups.items() for i in range(n)] + [(None, 0)]
    for group, _ in entries:
        pid = f"sub-{k + 1:03d}"
        rows.append(f"{pid}\t{group or 'n/a'}\t{60 + (k * 7) % 20}\t{'MF'[k % 2]}")
        anat = root / pid / ("ses-01" if sessions else "") / "anat"
        prefix = f"{pid}_ses-01" if sessions else pid
        names = ([f"{prefix}_acq-mprage_run-1_T1w", f"{prefix}_acq-mprage_run-2_T1w"] if k % 2 == 0
                 else [f"{prefix}_T1w", f"{prefix}_rec-norm_T1w"])
        files[pid] = []
        for j, stem in enumerate(names):
            data, affine = volume(2 * k + j)
            files[pid].append(save_image(data, affine, anat / f"{stem}{extension}"))
        if sessions:
            (root / pid / f"{pid}_sessions.tsv").write_text(f"session_id\tgroup\nses-01\t{group or 'n/a'}\n")
        k += 1
    (root / "participants.tsv").write_text("participant_id\tgroup\tage\tsex\n" + "\n".join(rows) + "\n")
    ignored = root / "sub-ignored" / "anat"
    save_image(*random_volume(999), ignored / "sub-ignored_T1w.nii.gz")
    (root / ".bidsignore").write_text("sub-ignored/\n*.log\n")
    return files
