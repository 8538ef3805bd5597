"""BIDS raw datasets: paths and tables (``participants.tsv``, ``sub-*_sessions.tsv``)."""

from medaug.bids.layout import (
    BIDSError,
    participants_path,
    read_participants,
    read_table,
    read_sessions,
    sessions_path,
    t1w_path,
)

__all__ = [
    "BIDSError",
    "participants_path",
    "read_participants",
    "read_table",
    "read_sessions",
    "sessions_path",
    "t1w_path",
]
