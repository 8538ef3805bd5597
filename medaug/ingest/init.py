"""``medaug init``: a complete profile (params.yaml) for a researcher's own BIDS dataset.

:func:`init_profile` surveys the dataset (:func:`medaug.ingest.source.survey`), picks the labels and
checks that each has enough participants for the splits, then rewrites the data-dependent keys of a
base profile (the current ``params.yaml``, or ``profiles/tiny.yaml``...) so that ``dvc repro`` runs
``cohort_bids@<name>`` instead of the demo generator. Every other number (model, sampler, training)
comes from the base profile. :func:`format_report` is what the command prints.

The classifiers compare two labels, ``classify.labels: {negative, positive}``
(:func:`classifier_labels`): the first two of ``--labels`` in that order, or else a control-like
label (``control``, ``HC``, ``CN``...) as the negative one and the first other label as the positive one.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from medaug.bids.index import index_t1w
from medaug.bids.layout import participants_path
from medaug.ingest.source import EXCLUSIONS, NO_SESSION, BIDSSource, SourceSurvey, survey, read_source_participants

__all__ = ["LABEL_COLUMN_CANDIDATES", "CONTROL_LABELS", "InitError", "SplitNeeds", "Profile", "classifier_labels",
           "init_profile", "format_report", "label_name"]

#: columns of participants.tsv tried, in order, when no --label-column is given (case-insensitive)
LABEL_COLUMN_CANDIDATES = ("group", "diagnosis", "dx", "diagnosis_group", "condition")
#: demographic columns the splits are balanced on, when participants.tsv has them
BALANCE_COLUMNS = ("age", "sex", "site")
#: label names (case-insensitive) taken as the classifiers' negative class when --labels does not order them
CONTROL_LABELS = ("control", "controls", "ctrl", "hc", "healthy", "healthycontrol", "healthycontrols", "cn", "nc",
                  "normal", "con")
DERIVATIVES_DIR = "data/derivatives/medaug-synthetic"


class InitError(ValueError):
    """The dataset cannot give a profile as asked; the message names the file, row or counts."""


@dataclass(frozen=True)
class SplitNeeds:
    """Participants each label needs: ``test`` + ``validation`` + ``train`` (the split stage's draws)."""

    test: int = 1
    validation: int = 1
    train: int = 3

    @property
    def total(self) -> int:
        return self.test + self.validation + self.train

    def describe(self) -> str:
        return f"{self.test} test + {self.validation} validation + {self.train} train = {self.total}"


@dataclass
class Profile:
    """What :func:`init_profile` made: the parameters and the survey they came from."""

    params: dict[str, Any]
    found: SourceSurvey
    left_out_labels: dict[str, str]          # raw value -> why it is not a label
    rule: str


def label_name(value: str) -> str:
    """A label value as a name usable in paths and BIDS labels: letters and digits only."""
    name = re.sub(r"[^A-Za-z0-9]", "", str(value))
    if not name:
        raise InitError(f"label value {value!r} has no letter or digit to name it")
    return name


def _detect_label_column(root: Path) -> str:
    participants = read_source_participants(root)
    lower = {c.lower(): c for c in participants.columns}
    for candidate in LABEL_COLUMN_CANDIDATES:
        if candidate in lower:
            return lower[candidate]
    raise InitError(f"{participants_path(root)}: no label column found (tried {list(LABEL_COLUMN_CANDIDATES)}); "
                    f"name one with --label-column (columns: {list(participants.columns)})")


def _choose_labels(counts: Mapping[str, int], asked: Sequence[str] | None, needs: SplitNeeds, where: str,
                   ) -> tuple[list[str], dict[str, str]]:
    """(the label values used, value -> why it was left out)."""
    if asked:
        missing = [a for a in asked if a not in counts]
        if missing:
            raise InitError(f"{where}: label value(s) {missing} not found; found {dict(sorted(counts.items()))}")
        short = {a: counts[a] for a in asked if counts[a] < needs.total}
        if short:
            raise InitError(f"{where}: too few participants for the splits: {short} (each label needs "
                            f"{needs.describe()}; found {dict(sorted(counts.items()))})")
        if len(set(asked)) < 2:
            raise InitError(f"--labels needs two or more labels, got {list(asked)}")
        left = {v: "not in --labels" for v in counts if v not in asked}
        return list(dict.fromkeys(asked)), left
    used = sorted(v for v, n in counts.items() if n >= needs.total)
    left = {v: f"{n} participant(s); each label needs {needs.describe()}" for v, n in counts.items()
            if n < needs.total}
    if len(used) < 2:
        raise InitError(f"{where}: the dataset is too small for the splits: participants per label "
                        f"{dict(sorted(counts.items()))}, and each of at least two labels needs {needs.describe()}")
    return used, left


def classifier_labels(labels: Sequence[str], ordered: bool) -> dict[str, str]:
    """``classify.labels`` from the label names used: ``{"negative": ..., "positive": ...}``.

    ``ordered`` (the user gave ``--labels``): the first two, in that order. Otherwise the first
    control-like label (:data:`CONTROL_LABELS`) is negative and the first other label positive;
    without a control-like label, the first two in order.
    """
    labels = list(labels)
    if not ordered:
        controls = [label for label in labels if label.lower() in CONTROL_LABELS]
        if controls:
            negative = controls[0]
            labels = [negative, *[label for label in labels if label != negative]]
    return {"negative": labels[0], "positive": labels[1]}


def _label_counts(root: Path, images: pd.DataFrame, label_column: str, labels_from: str,
                  session: str) -> dict[str, int]:
    """Participants per raw label value (a survey that uses no label, so reads no image header)."""
    probe = BIDSSource(name="probe", path=root, label_column=label_column, labels={}, labels_from=labels_from,
                       session=session)
    return survey(probe, images).value_counts


def _session_values(root: Path, participants: Sequence[str], column: str) -> set[str]:
    from medaug.bids.layout import read_table
    from medaug.split.labels import canonical_value

    values = set()
    for pid in participants:
        path = root / pid / f"{pid}_sessions.tsv"
        if path.is_file():
            values.update(v for v in map(canonical_value, read_table(path, ("session_id", column))[column]) if v)
    return values


def _fit_latent_sizes(train_vae: dict[str, Any], per_label: Mapping[str, int], n_test: int,
                      validation_size: float) -> None:
    """Keep the latent sizes a linear start can fit: at most the rank of the centred training volumes
    (N - 1 per label, or N - K over K labels sharing their components), as ``medaug.train.autoconfig``
    requires. The split draws ``n_test`` and then ``validation_size`` of the rest, rounded half up."""
    train = [n - n_test - math.floor(validation_size * (n - n_test) + 0.5) for n in per_label.values()]
    shared = train_vae.get("linear_path_components", "label") == "shared"
    rank = max(1, sum(train) - len(train) if shared else min(train) - 1)
    selection = train_vae.get("latent_size_selection") or {}
    if "candidates" in selection:
        kept = [c for c in selection["candidates"] if int(c) <= rank]
        selection["candidates"] = kept or [rank]
    network = train_vae.get("network") or {}
    if isinstance(network.get("latent_size"), int) and network["latent_size"] > rank:
        network["latent_size"] = rank


def _survey_labels(root: Path, label_column: str | None, labels: Sequence[str] | None, labels_from: str,
                   session: str, needs: SplitNeeds, name: str) -> tuple[str, dict[str, int], dict, dict[str, str], SourceSurvey]:
    """Find the label column, choose the labels with enough participants and survey the dataset.

    Returns (label column, participants per raw value, labels left out and why, raw value -> label
    name, the survey of the chosen labels)."""
    if labels_from == "participants":
        label_column = label_column or _detect_label_column(root)
    elif label_column is None:
        raise InitError("--labels-from sessions needs --label-column")
    where = f"{participants_path(root) if labels_from == 'participants' else root}, column {label_column!r}"
    images = index_t1w(root)
    counts = _label_counts(root, images, label_column, labels_from, session)
    used, left_out = _choose_labels(counts, labels, needs, where)
    names = {v: label_name(v) for v in used}
    if len(set(names.values())) != len(names):
        raise InitError(f"{where}: label values {used} give clashing names {names}")
    source = BIDSSource(name=name, path=root, label_column=label_column, labels=names, labels_from=labels_from,
                        session=session)
    return label_column, counts, left_out, names, survey(source, images)


def _check_chosen(root: Path, found: SourceSurvey, names: Mapping[str, str], needs: SplitNeeds) -> tuple[dict[str, int], str]:
    """Participants per label among the chosen images, and the one baseline session they share.

    Raises ``InitError`` when a label has too few usable images or the chosen sessions differ."""
    per_label = found.chosen["label"].value_counts().to_dict()
    short = {lab: int(per_label.get(lab, 0)) for lab in names.values() if per_label.get(lab, 0) < needs.total}
    if short:
        raise InitError(f"{root}: after leaving out participants without a usable image, too few remain for the "
                        f"splits: {short} (each label needs {needs.describe()}); see the exclusions below\n"
                        + found.excluded.to_string(index=False))
    sessions = found.chosen["session_id"].dropna().unique()
    if len(sessions) > 1:
        raise InitError(f"{root}: the chosen sessions differ between participants ({sorted(sessions)}); "
                        f"name one with --session")
    return per_label, str(sessions[0]) if len(sessions) else NO_SESSION


def _set_split(split: dict[str, Any], name: str, bids_out: str, labels_from: str, label_column: str,
               value_map: dict[str, str | None], baseline: str, present: Sequence[str], n_test: int,
               smallest: int) -> None:
    """The ``split`` section: the one training cohort, its label rule, test size and balance columns."""
    split["bids_dir"] = bids_out
    split["cohorts"] = {name: {"role": "training"}}
    split["labels"] = {"rule": "baseline" if labels_from == "participants" else split["labels"].get("rule", "stable"),
                       "diagnosis_column": label_column, "diagnosis_values": value_map,
                       "keep_without_followup": True, "baseline_session": baseline,
                       "sessions_table": "{participant_id}/{participant_id}_sessions.tsv",
                       "columns": {c: c for c in present}, "require_image": True}
    split["n_test_per_label"] = n_test
    train_min = smallest - n_test - max(1, math.floor(float(split["validation_size"]) * (smallest - n_test) + 0.5))
    split["balance"]["p_min"] = {c: p for c, p in split["balance"]["p_min"].items() if c in present}
    split["train_subset"]["n_per_label"] = int(min(int(split["train_subset"]["n_per_label"]), max(1, train_min)))
    split["train_subset"]["p_min"] = {c: p for c, p in split["train_subset"]["p_min"].items() if c in present}


def _set_stage_inputs(params: dict[str, Any], name: str, bids_out: str, baseline: str, label_names: list[str],
                      classes: Mapping[str, str], out_root: str) -> str:
    """Point preprocess, train_vae, sample, classify and audit at the cohort; ``classes``: the
    classifiers' ``classify.labels`` (:func:`classifier_labels`), also the labels audited. Returns
    the model-ready stack path."""
    pre = params["preprocess"]
    pre["cohorts"] = [name]
    pre["bids_dir"] = bids_out
    pre["session_id"] = baseline
    pre["t1_linear"].update({k: list(v) if isinstance(v, tuple) else v for k, v in REAL_SCAN_T1_LINEAR.items()})
    stack = f"{out_root}/preprocess/{name}/model_ready"
    params["train_vae"].update(stack=stack, splits_dir=f"{out_root}/splits/{name}")
    params["sample"].update(labels=label_names, stack=stack, train_split=f"{out_root}/splits/{name}/train.tsv",
                            write_latents=True)
    classify = params["classify"]
    classify.update(training_cohort=name, external_cohorts=[], labels=dict(classes))
    audit = params["audit"]
    audit.update(stack=stack, splits_dir=f"{out_root}/splits/{name}", labels=[classes["negative"], classes["positive"]])
    audit.setdefault("regions", {})["enabled"] = False
    return stack


def _derivatives_section(params: Mapping[str, Any], name: str, root: Path, stack: str, label_names: list[str],
                         label_column: str, out_root: str) -> dict[str, Any]:
    """The ``derivatives`` section: the synthetic cohort as a BIDS-derivatives dataset of ``root``."""
    return {
        "cohorts": [name], "out_dir": DERIVATIVES_DIR, "metrics_dir": "metrics",
        "skull_stripped": params["preprocess"].get("model_ready_brain_mask_mm") is not None, "labels": label_names,
        "label_column": label_column, "synthetic_dir": params["sample"]["out_dir"], "stack": stack,
        "train_split": f"{out_root}/splits/{name}/train.tsv", "models_dir": params["train_vae"]["out_dir"],
        "source_datasets": [root.as_uri()], "space": None, "mask_threshold": params["audit"]["mask"]["threshold"],
        "export": f"{out_root}/derivatives/train_real_synthetic.tsv",
    }


def init_profile(bids_dir: str | Path, base: Mapping[str, Any], *, name: str | None = None,
                 label_column: str | None = None, labels: Sequence[str] | None = None,
                 labels_from: str = "participants", session: str = "first", needs: SplitNeeds = SplitNeeds(),
                 test_fraction: float = 0.2, out_root: str = "data") -> Profile:
    """A complete profile for the BIDS dataset at ``bids_dir`` (see the module docstring).

    Raises:
        InitError / BIDSError: a missing label column, a label with too few participants, an empty
            dataset, duplicate participant ids, an image in another space; each names the file or row.
    """
    root = Path(bids_dir).resolve()
    name = name or label_name(root.name) or "mystudy"
    label_column, counts, left_out, names, found = _survey_labels(root, label_column, labels, labels_from, session,
                                                                  needs, name)
    per_label, baseline = _check_chosen(root, found, names, needs)

    params = copy.deepcopy(dict(base))
    smallest = min(per_label.values())
    n_test = max(needs.test, int(math.floor(test_fraction * smallest)))
    present = [c for c in BALANCE_COLUMNS if c in found.participants.columns]
    value_map: dict[str, str | None] = {v: None for v in counts}
    if labels_from == "sessions":
        value_map.update({v: None for v in _session_values(root, found.chosen["participant_id"], label_column)})
    value_map.update(names)
    bids_out = f"{out_root}/bids"
    params["cohort"] = {
        "demo": [], "bids": {name: {"path": str(root), "role": "training", "labels_from": labels_from,
                                    "label_column": label_column, "labels": dict(names), "session": session}},
        "out_dir": bids_out, "results_dir": "results/cohort", "metrics_dir": "metrics", "cohorts": {},
    }
    _set_split(params["split"], name, bids_out, labels_from, label_column, value_map, baseline, present, n_test,
               smallest)
    label_names = list(names.values())
    _fit_latent_sizes(params["train_vae"], per_label, n_test, float(params["split"]["validation_size"]))
    classes = classifier_labels(label_names, ordered=bool(labels))
    stack = _set_stage_inputs(params, name, bids_out, baseline, label_names, classes, out_root)
    params["derivatives"] = _derivatives_section(params, name, root, stack, label_names, label_column, out_root)
    rule = ("one image per participant: the " + ("earliest session" if session == "first" else f"session {session}")
            + "; in it an image without rec- before one with, no acq- before acq-<x>, the lowest run-, "
              "then the file name")
    return Profile(params, found, {str(k): v for k, v in left_out.items()}, rule)


REAL_SCAN_START_PITCH_DEG = (-10.0, 0.0, 10.0)
"""Pitches (degrees) of the cranium start for real scans, whatever the base profile says: a real
defaced head lands 11.6 mm off from one start and 0.9 mm from these three (docs/preprocessing.md)."""

REAL_SCAN_T1_LINEAR = {
    "start_pitch_deg": REAL_SCAN_START_PITCH_DEG,
    "template_resolution_mm": 1, "crop_shape": (169, 208, 179), "n4_shrink_factor": 4,
    "pose_check_spacing_mm": 3.0, "pose_check_shrink_factors": (4, 2, 1),
    "pose_check_smoothing_sigmas_mm": (6.0, 3.0, 1.5), "pose_check_iterations": (60, 30, 10),
    "pose_check_from_judged": True,
}
"""t1-linear settings for real scans, whatever the base profile says: the 1 mm template and crop, N4
at shrink 4 and the full pose check (the demo's fast settings are for its 2 mm generated heads)."""


def format_report(profile: Profile) -> str:
    """The text ``medaug init`` prints: labels, images per participant, the choices and exclusions."""
    found = profile.found
    source = found.source
    lines = [f"BIDS dataset {source.path} ({'with' if found.has_sessions else 'without'} sessions): "
             f"{len(found.participants)} participants in participants.tsv, {len(found.images)} T1w images",
             f"labels from {source.labels_from}.tsv column {source.label_column!r}:"]
    kept = found.chosen["label"].value_counts().to_dict()
    for value, label in source.labels.items():
        lines.append(f"  {label:<12} (value {value!r}): {kept.get(label, 0)} participants used")
    for value, why in sorted(profile.left_out_labels.items()):
        lines.append(f"  left out     (value {value!r}): {why}")
    per = pd.Series(found.images_per_participant())
    lines.append(f"images per participant: {per.value_counts().sort_index().to_dict()} (images: participants)")
    lines.append(f"images used: {len(found.chosen)}; rule: {profile.rule}")
    several = found.chosen[found.chosen["candidates"] > 1]
    for _, row in several.iterrows():
        lines.append(f"  {row['participant_id']}: {Path(row['path']).name} (of {row['candidates']})")
    if len(found.excluded):
        lines.append(f"participants left out: {len(found.excluded)}")
        for _, row in found.excluded.iterrows():
            lines.append(f"  {row['participant_id']}: {row['reason']} - {EXCLUSIONS[row['reason']]} ({row['detail']})")
    else:
        lines.append("participants left out: none")
    classes = profile.params.get("classify", {}).get("labels") or {}
    if classes:
        lines.append(f"classifiers: {classes['positive']} (positive) vs {classes['negative']} (negative), "
                     "classify.labels (edit it to swap them)")
        others = [lab for lab in source.labels.values() if lab not in classes.values()]
        if others:
            lines.append(f"  the classifier stages compare these two labels only; {others} have a generative model "
                         "but stop train_classifier (run `dvc repro derivatives`, or pass --labels with two labels)")
    return "\n".join(lines)
