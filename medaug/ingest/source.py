"""A researcher's own BIDS dataset as a medaug cohort: labels, one T1w per participant, exclusions.

A source is one entry of ``cohort.bids`` in params.yaml (``medaug init`` writes it)::

    mystudy:
      path: /data/ds000123          # the BIDS raw dataset, read only
      role: training                # training | external
      labels_from: participants     # participants: a column of participants.tsv; sessions: of sub-*_sessions.tsv
      label_column: group           # that column
      labels: {patient: patient, control: control}   # raw value -> label name; other values: no label
      session: first                # first: each participant's earliest session; or a session id (ses-01)

:func:`survey` reads the dataset (pybids, :func:`medaug.bids.index.index_t1w`) and decides, for every
participant, the one image medaug uses or the reason it is left out (:data:`EXCLUSIONS`). The image
rule: in the chosen session, an image without ``rec-`` before one with (the scanner's own
reconstruction), then no ``acq-`` before ``acq-<x>`` (alphabetical), then the lowest ``run-``, then
the file name. :func:`stage_cohort` writes the chosen images as the BIDS layout every later stage
reads (clinica's converters write the same): ``sub-X/ses-Y/anat/sub-X_ses-Y_T1w.nii.gz``, with a
sessions table holding the label column. A dataset without sessions gets ``ses-M000``, as clinica's
converter of the cross-sectional OASIS-1 does.
"""

from __future__ import annotations

import gzip
import logging
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medaug.bids.index import index_t1w
from medaug.bids.layout import BIDSError, participants_path, read_table
from medaug.config import check_keys
from medaug.io import atomic_directory, write_json, write_tsv
from medaug.split.labels import _session_order, canonical_value

__all__ = ["EXCLUSIONS", "NO_SESSION", "BIDSSource", "SourceSurvey", "survey", "stage_cohort", "image_space",
           "IMAGE_TABLE", "EXCLUDED_TABLE"]

logger = logging.getLogger(__name__)

NO_SESSION = "ses-M000"
IMAGE_TABLE = "medaug_images.tsv"
EXCLUDED_TABLE = "medaug_excluded.tsv"
LABELS_FROM = ("participants", "sessions")
_LABEL_NAME = re.compile(r"[A-Za-z0-9]+")
#: template spaces named by a NIfTI sform/qform code (NIfTI-1 header: 3 Talairach, 4 MNI152)
_TEMPLATE_CODES = {3: "talairach", 4: "mni"}

#: why a participant is left out (the ``reason`` column of :data:`EXCLUDED_TABLE`)
EXCLUSIONS = {
    "no_label": "the label column is n/a for this participant",
    "label_not_used": "the label value is not one of the labels used (too few participants, or not asked for)",
    "no_t1w": "no T1w image in the chosen session",
    "not_in_participants_tsv": "T1w images but no row in participants.tsv",
    "no_session": "the chosen session does not exist for this participant",
    "unreadable": "the T1w image cannot be read as NIfTI",
}


@dataclass(frozen=True)
class BIDSSource:
    """One entry of ``cohort.bids`` (see the module docstring)."""

    name: str
    path: Path
    label_column: str
    labels: Mapping[str, str]
    role: str = "training"
    labels_from: str = "participants"
    session: str = "first"

    def __post_init__(self) -> None:
        if self.labels_from not in LABELS_FROM:
            raise ValueError(f"cohort.bids.{self.name}.labels_from must be one of {LABELS_FROM}, got {self.labels_from!r}")
        if self.role not in ("training", "external"):
            raise ValueError(f"cohort.bids.{self.name}.role must be training or external, got {self.role!r}")
        bad = [v for v in self.labels.values() if not _LABEL_NAME.fullmatch(str(v))]
        if bad:
            raise ValueError(f"cohort.bids.{self.name}.labels: label names must be letters and digits, got {bad}")

    @classmethod
    def from_params(cls, name: str, spec: Mapping[str, Any]) -> BIDSSource:
        check_keys(spec, ("path", "role", "labels_from", "label_column", "labels", "session"), f"cohort.bids.{name}")
        labels = {canonical_value(k): str(v) for k, v in (spec.get("labels") or {}).items() if v is not None}
        return cls(name=str(name), path=Path(spec["path"]), label_column=str(spec["label_column"]), labels=labels,
                   role=str(spec.get("role", "training")), labels_from=str(spec.get("labels_from", "participants")),
                   session=str(spec.get("session", "first")))


@dataclass
class SourceSurvey:
    """What :func:`survey` found.

    Attributes:
        images: every T1w image (:func:`medaug.bids.index.index_t1w` columns).
        label_values: participant_id -> raw label value (None: n/a), for participants with a row.
        chosen: one row per kept participant: participant_id, session_id (source session, n/a
            without sessions), label (name), path, and the columns of participants.tsv.
        excluded: participant_id, reason (a key of :data:`EXCLUSIONS`), detail (file / row / value).
        has_sessions: whether the dataset has a ``ses-`` level.
    """

    source: BIDSSource
    images: pd.DataFrame
    participants: pd.DataFrame
    label_values: dict[str, Any]
    chosen: pd.DataFrame
    excluded: pd.DataFrame
    has_sessions: bool
    value_counts: dict[str, int] = field(default_factory=dict)

    def images_per_participant(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.images.groupby("participant_id").size().items()}


def read_source_participants(root: Path) -> pd.DataFrame:
    """``participants.tsv`` with unique, ``sub-``-prefixed ids; BIDSError naming the file and rows."""
    path = participants_path(root)
    table = read_table(path, ("participant_id",))
    ids = table["participant_id"].astype(str).str.strip()
    duplicated = ids[ids.duplicated(keep=False)]
    if len(duplicated):
        rows = ", ".join(f"row {i + 2} ({pid})" for i, pid in duplicated.items())  # row 1 is the header
        raise BIDSError(f"{path}: duplicate participant_id at {rows}")
    return table.assign(participant_id=ids.map(lambda p: p if p.startswith("sub-") else f"sub-{p}"))


def _session_labels(root: Path, participant_id: str, column: str) -> pd.DataFrame | None:
    path = root / participant_id / f"{participant_id}_sessions.tsv"
    if not path.is_file():
        return None
    return read_table(path, ("session_id", column))


def _rule_key(row: pd.Series) -> tuple:
    run = row["run"]
    return (pd.notna(row["reconstruction"]), str(row["reconstruction"] or ""), pd.notna(row["acquisition"]),
            str(row["acquisition"] or ""), int(run) if pd.notna(run) else -1, Path(row["path"]).name)


def image_space(path: str | Path) -> str:
    """``native`` or the template a NIfTI header's sform (else qform) code names; raises on an unreadable file."""
    import nibabel as nib

    header = nib.load(str(path)).header
    code = int(header["sform_code"]) or int(header["qform_code"])
    return _TEMPLATE_CODES.get(code, "native")


def _image_space_of(row: pd.Series) -> str:
    if isinstance(row["space"], str) and row["space"]:
        return f"space-{row['space']}"
    return image_space(row["path"])


def _labels_and_sessions(source: BIDSSource, images: pd.DataFrame, participants: pd.DataFrame,
                         excluded: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, str | None]]:
    """Each participant's raw label value and chosen session (None: the dataset has no sessions).

    Appends to ``excluded`` the participants without a sessions table or without the named session."""
    root = source.path
    has_sessions = bool(images["session_id"].notna().any())
    label_values: dict[str, Any] = {}
    session_of: dict[str, str | None] = {}
    if source.labels_from == "participants":
        if source.label_column not in participants.columns:
            raise BIDSError(f"{participants_path(root)}: no column {source.label_column!r} (label column); "
                            f"found {list(participants.columns)}")
        label_values.update(zip(participants["participant_id"], participants[source.label_column]))
    for pid in participants["participant_id"]:
        own = images[images["participant_id"] == pid]
        sessions = sorted(own["session_id"].dropna().unique(), key=_session_order)
        if source.labels_from == "sessions":
            table = _session_labels(root, pid, source.label_column)
            if table is None:
                excluded.append({"participant_id": pid, "reason": "no_label",
                                 "detail": f"{root / pid / f'{pid}_sessions.tsv'} not found"})
                continue
            sessions = sorted(table["session_id"].astype(str), key=_session_order)
        if source.session == "first":
            chosen = sessions[0] if sessions else None
        else:
            chosen = source.session if source.session in sessions else None
            if chosen is None and has_sessions:
                excluded.append({"participant_id": pid, "reason": "no_session", "detail": source.session})
                continue
        session_of[pid] = chosen
        if source.labels_from == "sessions":
            value = table.loc[table["session_id"].astype(str) == chosen, source.label_column]
            label_values[pid] = value.iloc[0] if len(value) else None
    return label_values, session_of


def _value_counts(label_values: Mapping[str, Any]) -> dict[str, int]:
    """Participants per canonical label value (missing values not counted)."""
    value_counts: dict[str, int] = {}
    for value in label_values.values():
        key = canonical_value(value)
        if key is not None:
            value_counts[key] = value_counts.get(key, 0) + 1
    return value_counts


def _choose_images(source: BIDSSource, images: pd.DataFrame, participants: pd.DataFrame,
                   label_values: Mapping[str, Any], session_of: Mapping[str, str | None],
                   excluded: list[dict[str, Any]]) -> pd.DataFrame:
    """One image per participant with a used label (the naming rule of :func:`_rule_key`).

    Appends to ``excluded`` the participants without a label, with an unused one, without a T1w in
    the chosen session, and the image folders missing from participants.tsv."""
    part_file = participants_path(source.path)
    rows = []
    by_row = {pid: i for i, pid in enumerate(participants["participant_id"])}
    for pid, value in label_values.items():
        key = canonical_value(value)
        if key is None:
            excluded.append({"participant_id": pid, "reason": "no_label",
                             "detail": f"{part_file if source.labels_from == 'participants' else 'sessions.tsv'} "
                                       f"row {by_row[pid] + 2}, column {source.label_column!r}"})
            continue
        if key not in source.labels:
            excluded.append({"participant_id": pid, "reason": "label_not_used", "detail": f"value {key!r}"})
            continue
        session = session_of.get(pid)
        own = images[(images["participant_id"] == pid)]
        own = own[own["session_id"] == session] if session is not None else own[own["session_id"].isna()]
        if own.empty:
            excluded.append({"participant_id": pid, "reason": "no_t1w", "detail": session or "(no sessions)"})
            continue
        best = min((r for _, r in own.iterrows()), key=_rule_key)
        rows.append({"participant_id": pid, "session_id": session, "label": source.labels[key],
                     "label_value": key, "candidates": len(own), "path": best["path"], "space": best["space"]})
    for pid in sorted(set(images["participant_id"]) - set(participants["participant_id"])):
        excluded.append({"participant_id": pid, "reason": "not_in_participants_tsv", "detail": str(part_file)})
    return pd.DataFrame(rows, columns=["participant_id", "session_id", "label", "label_value", "candidates",
                                       "path", "space"])


def _with_image_space(chosen: pd.DataFrame, excluded: list[dict[str, Any]]) -> pd.DataFrame:
    """``chosen`` with each image's template space; an unreadable image is logged, left out and added
    to ``excluded``. Raises ``BIDSError`` when the readable images lie in different spaces."""
    spaces = []
    for _, row in chosen.iterrows():
        try:
            spaces.append(_image_space_of(row))
        except Exception as err:  # nibabel raises several types for a damaged file
            logger.error("%s: cannot be read as NIfTI (%s); %s is left out", row["path"], err, row["participant_id"])
            excluded.append({"participant_id": row["participant_id"], "reason": "unreadable",
                             "detail": f"{row['path']}: {err}"})
            spaces.append(None)
    chosen = chosen.assign(image_space=spaces)
    chosen = chosen[chosen["image_space"].notna()]
    _check_one_space(chosen)
    return chosen


def survey(source: BIDSSource, images: pd.DataFrame | None = None) -> SourceSurvey:
    """Choose one T1w per labelled participant of ``source`` (see the module docstring).

    ``images``: the dataset's :func:`medaug.bids.index.index_t1w` table when the caller has it
    (indexing is the slow part); None indexes ``source.path``.

    Raises:
        BIDSError: no dataset / no T1w / a missing label column / duplicate participant ids / a
            chosen image whose space differs from the others; each names the file or row.
    """
    root = source.path
    images = index_t1w(root) if images is None else images
    if images.empty:
        raise BIDSError(f"{root}: no T1w image found (looked for sub-*/[ses-*/]anat/*_T1w.nii[.gz], "
                        f"outside .bidsignore)")
    participants = read_source_participants(root)
    has_sessions = bool(images["session_id"].notna().any())
    excluded: list[dict[str, Any]] = []
    label_values, session_of = _labels_and_sessions(source, images, participants, excluded)
    value_counts = _value_counts(label_values)
    chosen = _choose_images(source, images, participants, label_values, session_of, excluded)
    chosen = _with_image_space(chosen, excluded)
    excluded_table = pd.DataFrame(excluded, columns=["participant_id", "reason", "detail"])
    excluded_table = excluded_table.sort_values("participant_id", kind="stable").reset_index(drop=True)
    return SourceSurvey(source, images, participants, label_values,
                        chosen.drop(columns=["space"]).sort_values("participant_id").reset_index(drop=True),
                        excluded_table, has_sessions, value_counts)


def _check_one_space(chosen: pd.DataFrame) -> None:
    """BIDSError naming the images whose space differs from the majority's."""
    counts = chosen["image_space"].value_counts()
    if len(counts) <= 1:
        return
    majority = counts.index[0]
    odd = chosen[chosen["image_space"] != majority]
    listed = "; ".join(f"{p} ({s})" for p, s in zip(odd["path"], odd["image_space"]))
    raise BIDSError(f"image(s) in a different space than the other {counts.iloc[0]} ({majority}): {listed}. "
                    f"Every T1w must be a native (scanner-space) image; remove these or list them in .bidsignore")


def _copy_as_nifti_gz(source: Path, target: Path) -> None:
    """``.nii.gz``: byte copy; ``.nii``: gzip with a fixed header time (same bytes on every run)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.name.endswith(".nii.gz"):
        shutil.copyfile(source, target)
        return
    with source.open("rb") as fin, target.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                                           mtime=0) as fout:
        shutil.copyfileobj(fin, fout, length=1 << 20)


def _readable(path: Path) -> str | None:
    """None if nibabel reads the whole image as a 3-D volume, else why not."""
    import nibabel as nib

    try:
        image = nib.load(str(path))
        data = np.asanyarray(image.dataobj)
    except Exception as err:  # noqa: BLE001 - any reader failure is reported, the rest goes on
        return str(err)
    if data.ndim != 3 and not (data.ndim == 4 and data.shape[3] == 1):
        return f"shape {data.shape} is not a 3-D volume"
    return None


def stage_cohort(found: SourceSurvey, out_dir: str | Path) -> dict[str, Any]:
    """Write the chosen images as medaug's BIDS layout under ``out_dir`` (atomically).

    Writes ``dataset_description.json`` (``SourceDatasets`` names the source), ``participants.tsv``
    (the source's columns), ``sub-X/sub-X_sessions.tsv`` (``session_id``, the label column,
    ``source_session_id``, ``source_path``), the images, :data:`IMAGE_TABLE` (the chosen image of every
    participant) and :data:`EXCLUDED_TABLE` (who was left out, and why). An image nibabel cannot read
    is logged as an error naming the file and left out; the others are written.

    Returns the summary written to the stage's metrics.
    """
    source = found.source
    target, origin = Path(out_dir).resolve(), Path(source.path).resolve()
    if target == origin or origin in target.parents or target in origin.parents:
        raise BIDSError(f"{out_dir}: the staged cohort would overwrite or nest in its source {source.path}; "
                        f"give cohort.out_dir another folder")
    column = source.label_column
    excluded = found.excluded.to_dict("records")
    kept = []
    with atomic_directory(out_dir) as tmp:
        tmp = Path(tmp)
        for _, row in found.chosen.iterrows():
            pid = row["participant_id"]
            problem = _readable(Path(row["path"]))
            if problem is not None:
                logger.error("%s: cannot be read (%s); %s is left out, the rest is processed", row["path"], problem, pid)
                excluded.append({"participant_id": pid, "reason": "unreadable", "detail": f"{row['path']}: {problem}"})
                continue
            session = row["session_id"] if isinstance(row["session_id"], str) else NO_SESSION
            target = tmp / pid / session / "anat" / f"{pid}_{session}_T1w.nii.gz"
            _copy_as_nifti_gz(Path(row["path"]), target)
            sessions = pd.DataFrame({"session_id": [session], column: [row["label_value"]]})
            if source.labels_from == "sessions":
                table = read_table(source.path / pid / f"{pid}_sessions.tsv", ("session_id", column))
                sessions = table.astype({"session_id": str})
            sessions["source_session_id"] = sessions["session_id"] if found.has_sessions else None
            sessions["source_path"] = [str(row["path"]) if s == session else None for s in sessions["session_id"]]
            write_tsv(sessions, tmp / pid / f"{pid}_sessions.tsv")
            kept.append({**row.to_dict(), "session_id": session, "source_session_id": row["session_id"]})
        if not kept:
            raise BIDSError(f"{source.path}: no participant left to write (see the exclusions: "
                            f"{pd.DataFrame(excluded)['reason'].value_counts().to_dict() if excluded else {}})")
        kept_table = pd.DataFrame(kept)
        participants = found.participants[found.participants["participant_id"].isin(kept_table["participant_id"])]
        write_tsv(participants.sort_values("participant_id").reset_index(drop=True), tmp / "participants.tsv")
        write_tsv(kept_table[["participant_id", "session_id", "source_session_id", "label", "label_value",
                              "candidates", "path"]].rename(columns={"path": "source_path"}), tmp / IMAGE_TABLE)
        excluded_table = pd.DataFrame(excluded, columns=["participant_id", "reason", "detail"])
        write_tsv(excluded_table.sort_values("participant_id", kind="stable"), tmp / EXCLUDED_TABLE)
        write_json({"Name": f"{source.name} (medaug working copy)", "BIDSVersion": "1.9.0", "DatasetType": "raw",
                    "SourceDatasets": [{"URL": Path(source.path).resolve().as_uri()}]},
                   tmp / "dataset_description.json")
        (tmp / ".bidsignore").write_text(f"{IMAGE_TABLE}\n{EXCLUDED_TABLE}\n")
    return {
        "source": str(source.path),
        "participants": int(len(found.participants)),
        "images_indexed": int(len(found.images)),
        "kept": {str(k): int(v) for k, v in sorted(kept_table["label"].value_counts().items())},
        "excluded": {str(k): int(v) for k, v in sorted(excluded_table["reason"].value_counts().items())},
    }
