"""Diagnostic labels of baseline images from a BIDS raw dataset (thesis sec. 1.5.2).

A participant is labelled at the baseline session. With the ``stable`` rule the label is kept only
if every later session with a diagnosis maps to the same label (stable CN, stable AD); converters
and participants whose baseline diagnosis is not a label (MCI) are excluded. With the ``baseline``
rule (cross-sectional cohorts such as OASIS-1) only the baseline diagnosis counts.

Raw diagnosis values are mapped to labels by a parameter, e.g. ``{CN: CN, MCI: null, AD: AD}`` or,
for a CDR column, ``{0: CN, 0.5: AD, 1: AD, 2: AD, 3: AD}``; ``null`` marks a known value that is not
a label. A value missing from the mapping is an error, never a silent exclusion.

The result is one row per participant of ``participants.tsv``: labelled rows have a ``diagnosis``
and ``exclusion`` n/a; the others have the reason they were left out (see :data:`EXCLUSIONS`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# read_table is the layout reader (n/a handling, errors naming the file); the sessions table location
# is a parameter here, so layout.read_sessions (fixed location) cannot be used.
from medaug.bids.layout import BIDSError, read_table, participants_path, read_participants, t1w_path
from medaug.config import check_keys, dataclass_keys

RULES = ("stable", "baseline")

#: Exclusion codes written in the ``exclusion`` column of the labels table.
EXCLUSIONS = {
    "no_baseline_session": "the baseline session is not in sessions.tsv",
    "no_baseline_diagnosis": "the baseline diagnosis is missing (n/a)",
    "not_a_label_at_baseline": "the baseline diagnosis maps to no label (e.g. MCI)",
    "unstable": "a follow-up diagnosis differs from the baseline label (converter)",
    "no_followup": "no follow-up diagnosis, and keep_without_followup is false",
    "no_baseline_image": "the baseline T1w image is missing",
}


class LabelError(ValueError):
    """A diagnosis value that the mapping does not know; the message names the file and row."""


def canonical_value(value: Any) -> str | None:
    """Spelling of a raw table value used to match it against the mapping keys.

    Numbers and numeric strings compare by value (``0``, ``0.0`` and ``"0"`` all give ``"0"``;
    ``0.5`` and ``"0.5"`` give ``"0.5"``), other strings are stripped; missing values give None.
    """
    if value is None:
        return None
    if isinstance(value, (float, np.floating)) and math.isnan(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        return format(float(value), "g")
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return text if math.isnan(number) else format(number, "g")


@dataclass(frozen=True)
class LabelRule:
    """How labels are read from a BIDS dataset (the ``labels`` parameters).

    Attributes:
        diagnosis_values: raw value -> label, or None for a known value that is not a label.
        diagnosis_column: column of the sessions table holding the per-session diagnosis.
        rule: ``"stable"`` (same label at every session) or ``"baseline"`` (baseline only).
        keep_without_followup: keep participants with no follow-up diagnosis (``stable`` rule).
        baseline_session: session id of the baseline visit.
        sessions_table: location of a participant's sessions table relative to the BIDS root,
            a template with ``{participant_id}``.
        columns: output column -> source column, looked up in the baseline row of the sessions
            table first and in ``participants.tsv`` when absent or n/a there.
        require_image: exclude participants whose baseline T1w image does not exist.
    """

    diagnosis_values: Mapping[Any, str | None]
    diagnosis_column: str = "diagnosis"
    rule: str = "stable"
    keep_without_followup: bool = True
    baseline_session: str = "ses-M000"
    sessions_table: str = "{participant_id}/{participant_id}_sessions.tsv"
    columns: Mapping[str, str] = field(
        default_factory=lambda: {"age": "age", "sex": "sex", "site": "site"}
    )
    require_image: bool = True

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"labels.rule must be one of {RULES}, got {self.rule!r}")
        if "{participant_id}" not in self.sessions_table:
            raise ValueError(
                f"labels.sessions_table must contain '{{participant_id}}', got {self.sessions_table!r}"
            )
        reserved = {"participant_id", "session_id", "diagnosis", "diagnoses", "exclusion"}
        clash = reserved.intersection(self.columns)
        if clash:
            raise ValueError(f"labels.columns may not redefine {sorted(clash)}")
        if len(self.labels) < 2:
            raise ValueError(
                f"labels.diagnosis_values must map to at least two labels, got {self.labels}"
            )

    @property
    def value_to_label(self) -> dict[str, str | None]:
        return {canonical_value(k): v for k, v in self.diagnosis_values.items()}

    @property
    def labels(self) -> list[str]:
        """The distinct labels, sorted (e.g. ``["AD", "CN"]``)."""
        return sorted({v for v in self.diagnosis_values.values() if v is not None})

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> LabelRule:
        """Build from the ``labels`` parameter section; unknown keys are an error."""
        check_keys(params, dataclass_keys(cls), "split.labels")
        return cls(**params)


def _session_order(session_id: str) -> tuple[int, str]:
    """Sort key putting ``ses-M6`` before ``ses-M12`` (months), then by name."""
    digits = re.findall(r"\d+", session_id)
    return (int(digits[0]) if digits else -1, session_id)


def _map_diagnosis(raw: Any, mapping: Mapping[str, str | None], where: str) -> tuple[str | None, bool]:
    """Return (label or None, whether a diagnosis was recorded); raise LabelError if unknown."""
    key = canonical_value(raw)
    if key is None:
        return None, False
    if key not in mapping:
        known = ", ".join(sorted(str(k) for k in mapping))
        raise LabelError(f"{where}: unknown diagnosis value {raw!r} (known values: {known})")
    return mapping[key], True


def _read_sessions_table(root: Path, participant_id: str, rule: LabelRule) -> tuple[Path, pd.DataFrame]:
    """The participant's sessions table, sorted by visit; BIDSError naming the file on error."""
    path = root / rule.sessions_table.format(participant_id=participant_id)
    sessions = read_table(path, ("session_id", rule.diagnosis_column))
    duplicated = sessions["session_id"][sessions["session_id"].duplicated()]
    if len(duplicated):
        raise BIDSError(f"{path}: duplicated session_id {sorted(set(duplicated))}")
    ids = sessions["session_id"].astype(str).tolist()
    order = sorted(range(len(ids)), key=lambda i: _session_order(ids[i]))
    return path, sessions.iloc[order].reset_index(drop=True)


def _label_participant(
    root: Path, participant: pd.Series, rule: LabelRule, mapping: Mapping[str, str | None], part_file: Path
) -> dict[str, Any]:
    """One row of the labels table (see :func:`read_labels`)."""
    participant_id = participant["participant_id"]
    table_path, sessions = _read_sessions_table(root, participant_id, rule)

    history: list[str] = []
    labels: dict[str, str | None] = {}  # session_id -> label, for sessions with a diagnosis
    for session_id, raw in zip(sessions["session_id"], sessions[rule.diagnosis_column]):
        where = f"{table_path}, session {session_id}, column {rule.diagnosis_column!r}"
        label, recorded = _map_diagnosis(raw, mapping, where)
        if recorded:
            history.append(canonical_value(raw))
            labels[session_id] = label

    baseline = sessions[sessions["session_id"] == rule.baseline_session]
    row: dict[str, Any] = {
        "participant_id": participant_id,
        "session_id": None if baseline.empty else rule.baseline_session,
        "diagnosis": None,
        "diagnoses": ">".join(history) if history else None,
    }
    for out_col, src_col in rule.columns.items():
        in_sessions = src_col in sessions.columns
        in_participants = src_col in participant.index
        if not (in_sessions or in_participants):
            raise BIDSError(f"{table_path}: column {src_col!r} found neither here nor in {part_file}")
        value = baseline[src_col].iloc[0] if in_sessions and len(baseline) else None
        if canonical_value(value) is None and in_participants:
            value = participant[src_col]
        row[out_col] = value

    row["exclusion"] = _exclusion(root, participant_id, labels, has_baseline=not baseline.empty, rule=rule)
    if row["exclusion"] is None:
        row["diagnosis"] = labels[rule.baseline_session]
    return row


def _exclusion(
    root: Path, participant_id: str, labels: Mapping[str, str | None], has_baseline: bool, rule: LabelRule
) -> str | None:
    """The exclusion code of a participant (see :data:`EXCLUSIONS`), or None if labelled.

    ``labels`` maps each session with a recorded diagnosis to its label (None: not a label).
    """
    if not has_baseline:
        return "no_baseline_session"
    if rule.baseline_session not in labels:
        return "no_baseline_diagnosis"
    label = labels[rule.baseline_session]
    if label is None:
        return "not_a_label_at_baseline"
    if rule.rule == "stable":
        followups = [v for s, v in labels.items() if s != rule.baseline_session]
        if any(v != label for v in followups):
            return "unstable"
        if not followups and not rule.keep_without_followup:
            return "no_followup"
    if rule.require_image and not t1w_path(root, participant_id, rule.baseline_session).is_file():
        return "no_baseline_image"
    return None


def read_labels(bids_root: str | Path, rule: LabelRule) -> pd.DataFrame:
    """Label the baseline image of every participant of a BIDS raw dataset.

    Returns:
        One row per participant of ``participants.tsv``, sorted by ``participant_id``, with columns
        ``participant_id, session_id`` (the baseline), ``diagnosis`` (label, n/a if excluded),
        the output columns of ``rule.columns`` (e.g. ``age, sex, site``), ``diagnoses`` (the
        recorded raw diagnoses in session order, ``>``-joined) and ``exclusion`` (a code of
        :data:`EXCLUSIONS`, n/a if labelled).

    Raises:
        BIDSError: a missing ``participants.tsv`` / sessions table or column, naming the file.
        LabelError: a diagnosis value absent from the mapping, naming the file and session.
    """
    root = Path(bids_root)
    part_file = participants_path(root)
    participants = read_participants(root)
    duplicated = participants["participant_id"][participants["participant_id"].duplicated()]
    if len(duplicated):
        raise BIDSError(f"{part_file}: duplicated participant_id {sorted(set(duplicated))}")
    mapping = rule.value_to_label
    rows = [
        _label_participant(root, participant, rule, mapping, part_file)
        for _, participant in participants.sort_values("participant_id").iterrows()
    ]
    columns = ["participant_id", "session_id", "diagnosis", *rule.columns, "diagnoses", "exclusion"]
    return pd.DataFrame(rows, columns=columns).reset_index(drop=True)


def labelled_images(labels: pd.DataFrame) -> pd.DataFrame:
    """The labelled rows of a :func:`read_labels` table, without the bookkeeping columns."""
    kept = labels[labels["exclusion"].isna()]
    return kept.drop(columns=["diagnoses", "exclusion"]).reset_index(drop=True)


def summarize_labels(labels: pd.DataFrame) -> dict[str, Any]:
    """Counts for the metrics file: labelled participants per label and exclusions per reason."""
    kept = labels[labels["exclusion"].isna()]
    without_followup = kept["diagnoses"].fillna("").map(lambda h: ">" not in h)
    return {
        "participants": int(len(labels)),
        "labelled": {str(k): int(v) for k, v in sorted(kept["diagnosis"].value_counts().items())},
        "labelled_without_followup": int(without_followup.sum()),
        "excluded": {str(k): int(v) for k, v in sorted(labels["exclusion"].value_counts().items())},
    }
