"""Paths and tables of a BIDS raw dataset, as clinica's converters write them.

Layout::

    <root>/dataset_description.json          {"DatasetType": "raw", ...}
    <root>/participants.tsv                  one row per participant
    <root>/sub-<X>/sub-<X>_sessions.tsv      one row per session, with a per-session ``diagnosis``
    <root>/sub-<X>/ses-<Y>/anat/sub-<X>_ses-<Y>_T1w.nii.gz

``participant_id`` keeps its ``sub-`` prefix and ``session_id`` its ``ses-`` prefix everywhere
(clinica / clinicadl convention).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd


class BIDSError(ValueError):
    """A BIDS dataset is missing a file or a column; the message names the file."""


def participants_path(root: str | Path) -> Path:
    """``<root>/participants.tsv``."""
    return Path(root) / "participants.tsv"


def sessions_path(root: str | Path, participant_id: str) -> Path:
    """``<root>/sub-X/sub-X_sessions.tsv``."""
    return Path(root) / participant_id / f"{participant_id}_sessions.tsv"


def t1w_path(root: str | Path, participant_id: str, session_id: str) -> Path:
    """``<root>/sub-X/ses-Y/anat/sub-X_ses-Y_T1w.nii.gz``."""
    return Path(root) / participant_id / session_id / "anat" / f"{participant_id}_{session_id}_T1w.nii.gz"


def read_table(path: str | Path, required: Iterable[str] = ()) -> pd.DataFrame:
    """Read a BIDS-style TSV (``n/a`` = missing); raise :class:`BIDSError` naming the file on error."""
    path = Path(path)
    if not path.is_file():
        raise BIDSError(f"{path}: file not found")
    try:
        frame = pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=True, dtype={"participant_id": str, "session_id": str})
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise BIDSError(f"{path}: cannot be read as a TSV table ({err})") from err
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise BIDSError(f"{path}: missing column(s) {missing}; found {list(frame.columns)}")
    return frame


def read_participants(root: str | Path, required: Iterable[str] = ("participant_id",)) -> pd.DataFrame:
    """Read ``participants.tsv``; raise :class:`BIDSError` naming the file if it or a column is missing."""
    return read_table(participants_path(root), required)


def read_sessions(
    root: str | Path, participant_id: str, required: Iterable[str] = ("session_id",)
) -> pd.DataFrame:
    """Read one participant's ``sessions.tsv``; raise :class:`BIDSError` naming the file on error."""
    return read_table(sessions_path(root, participant_id), required)
