"""BIDS raw datasets: paths and tables (``participants.tsv``, ``sub-*_sessions.tsv``)."""

from medaug._exports import lazy_exports

_EXPORTS = {
    "BIDSError": "layout",
    "participants_path": "layout",
    "read_participants": "layout",
    "read_sessions": "layout",
    "read_table": "layout",
    "sessions_path": "layout",
    "t1w_path": "layout",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
