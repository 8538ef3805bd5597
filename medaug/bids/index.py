"""Index the T1-weighted images of any BIDS raw dataset with pybids.

:func:`index_t1w` returns one row per ``*_T1w.nii`` / ``*_T1w.nii.gz`` file that pybids finds
outside the paths the dataset's ``.bidsignore`` lists, with its entities (``subject``, ``session``,
``acquisition``, ``reconstruction``, ``run``, ``space``) as columns. Datasets with and without a
``ses-`` level are both read; a dataset without sessions has ``session`` n/a everywhere.

pybids (0.22) indexes ``.bidsignore``'d folders as if they were data, so the file's patterns are
turned into regular expressions here and passed to pybids' indexer as ``ignore``. The patterns
follow the ``.gitignore`` syntax the BIDS specification names (sec. "Ignoring files"): ``*`` and
``?`` stop at ``/``, ``**`` crosses folders, a pattern with an inner ``/`` is anchored at the root,
one without matches a name at any depth, and a trailing ``/`` matches a folder and its content.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from medaug.bids.layout import BIDSError

__all__ = ["IMAGE_COLUMNS", "bidsignore_patterns", "index_t1w", "participant_label"]

#: columns of :func:`index_t1w`; entity columns hold n/a when the file name has no such entity
IMAGE_COLUMNS = ["participant_id", "session_id", "acquisition", "reconstruction", "run", "space", "extension",
                 "path"]
_ENTITIES = {"acquisition": "acquisition", "reconstruction": "reconstruction", "run": "run", "space": "space"}


def _glob_to_regex(glob: str) -> str:
    out, i = [], 0
    while i < len(glob):
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            if i < len(glob) and glob[i] == "/":
                i += 1
                out.append("/?" if out[-1] == ".*" else "")
            continue
        char = glob[i]
        out.append("[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char))
        i += 1
    return "".join(out)


def bidsignore_patterns(root: str | Path) -> list[re.Pattern[str]]:
    """The ``.bidsignore`` patterns of ``root`` as regular expressions over root-relative paths.

    Each expression matches a path relative to the root, with or without a leading ``/``
    (``sub-09/anat/x.nii.gz`` and ``/sub-09``). No ``.bidsignore``: an empty list.
    """
    path = Path(root) / ".bidsignore"
    if not path.is_file():
        return []
    patterns = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        anchored = "/" in line.rstrip("/")
        body = _glob_to_regex(line.strip("/"))
        prefix = "^/?" if anchored or line.startswith("/") else "^/?(?:.*/)?"
        patterns.append(re.compile(f"{prefix}{body}(?:/.*)?$"))
    return patterns


def participant_label(participant_id: str) -> str:
    """``sub-01`` -> ``01`` (a label without the prefix is returned as it is)."""
    return participant_id[4:] if participant_id.startswith("sub-") else participant_id


def index_t1w(root: str | Path) -> pd.DataFrame:
    """Every T1w NIfTI image of the BIDS raw dataset at ``root`` (see the module docstring).

    Returns:
        Columns :data:`IMAGE_COLUMNS`, one row per image, sorted by participant, session and file
        name. ``participant_id`` keeps its ``sub-`` prefix, ``session_id`` its ``ses-`` prefix (n/a
        without sessions); ``run`` is an integer or n/a; ``path`` is absolute.

    Raises:
        BIDSError: ``root`` is not a folder or has no ``dataset_description.json`` (named).
    """
    from bids import BIDSLayout
    from bids.layout.index import BIDSLayoutIndexer

    root = Path(root).resolve()
    if not root.is_dir():
        raise BIDSError(f"{root}: not a folder")
    if not (root / "dataset_description.json").is_file():
        raise BIDSError(f"{root / 'dataset_description.json'}: file not found (is {root} a BIDS dataset?)")
    ignore = [re.compile(r"^/?(?:code|derivatives|sourcedata|stimuli)(?:/|$)"), re.compile(r"/\."),
              *bidsignore_patterns(root)]
    try:
        layout = BIDSLayout(root, validate=True, indexer=BIDSLayoutIndexer(validate=True, ignore=ignore))
    except Exception as err:  # pybids raises its own exception types for a malformed description
        raise BIDSError(f"{root}: pybids cannot index the dataset ({type(err).__name__}: {err})") from err
    rows = []
    for image in layout.get(suffix="T1w", extension=[".nii", ".nii.gz"], datatype="anat"):
        entities = image.get_entities()
        session = entities.get("session")
        row = {
            "participant_id": f"sub-{entities['subject']}",
            "session_id": f"ses-{session}" if session is not None else None,
            **{column: entities.get(entity) for column, entity in _ENTITIES.items()},
            "extension": entities["extension"],
            "path": str(Path(image.path)),
        }
        rows.append(row)
    table = pd.DataFrame(rows, columns=IMAGE_COLUMNS)
    table["run"] = table["run"].astype("Int64")
    order = table.assign(_ses=table["session_id"].fillna(""), _name=table["path"].map(lambda p: Path(p).name))
    order = order.sort_values(["participant_id", "_ses", "_name"], kind="stable")
    return order.drop(columns=["_ses", "_name"]).reset_index(drop=True)
