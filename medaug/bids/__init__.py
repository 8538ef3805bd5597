"""BIDS raw datasets: paths and tables (``participants.tsv``, ``sub-*_sessions.tsv``)."""

from medaug._exports import lazy_exports

_EXPORTS = {  # defining module (relative) -> its public names
    "layout": [
        "BIDSError", "participants_path", "read_participants", "read_sessions", "read_table",
        "sessions_path", "t1w_path"
    ],
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
