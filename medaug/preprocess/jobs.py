"""Which sessions to preprocess: every baseline T1w of a BIDS dataset, a given list, or a CAPS."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from medaug.bids.layout import t1w_path
from medaug.preprocess import caps
from medaug.preprocess.pool import ImageJob


def read_session_list(path: str | Path) -> list[tuple[str, str]]:
    """(participant_id, session_id) pairs of a TSV with those two columns, deduplicated.

    A labels table of the ``split`` stage lists excluded participants too, with the reason in its
    ``exclusion`` column: only the rows without an exclusion are kept.
    """
    path = Path(path)
    try:
        table = pd.read_csv(path, sep="\t", dtype=str)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise ValueError(f"{path}: cannot read the session list ({err})") from err
    missing = {"participant_id", "session_id"} - set(table.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
    if "exclusion" in table.columns:
        table = table[table["exclusion"].isna() | (table["exclusion"] == "n/a")]
    pairs = table[["participant_id", "session_id"]].drop_duplicates()
    return [(str(p), str(s)) for p, s in pairs.itertuples(index=False)]


def bids_jobs(bids_dir: str | Path, sessions: Iterable[tuple[str, str]] | None = None,
              session_id: str = "ses-M000") -> list[ImageJob]:
    """Jobs for the listed sessions, or for every ``sub-*/<session_id>/anat/*_T1w.nii.gz`` found.

    A listed session whose image is missing still becomes a job: it fails with "file not found",
    so the stage reports it instead of silently skipping it.
    """
    bids_dir = Path(bids_dir)
    if sessions is None:
        found = sorted(bids_dir.glob(f"sub-*/{session_id}/anat/sub-*_{session_id}_T1w.nii.gz"))
        sessions = [(p.parts[-4], session_id) for p in found]
    return [ImageJob(p, s, t1w_path(bids_dir, p, s)) for p, s in sorted(set(sessions))]


def caps_jobs(caps_dir: str | Path, sessions: Iterable[tuple[str, str]] | None = None,
              session_id: str = "ses-M000") -> list[ImageJob]:
    """Jobs reading the ``desc-Crop`` images of an existing CAPS (e.g. from ``clinica run t1-linear``)."""
    if sessions is None:
        sessions = [(p, s) for p, s in caps.list_crop_sessions(caps_dir) if s == session_id]
    jobs = []
    for participant_id, sid in sorted(set(sessions)):
        found = caps.find_crop_image(caps_dir, participant_id, sid)
        source = found or caps.t1_linear_dir(caps_dir, participant_id, sid) / "(no desc-Crop image)"
        jobs.append(ImageJob(participant_id, sid, source, from_caps=True))
    return jobs
