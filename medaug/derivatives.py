"""Synthetic cohorts as a BIDS-derivatives dataset, and one training TSV of real + synthetic images.

:func:`run` (stage ``derivatives``) turns the synthetic cohorts of stage ``sample``
(``<synthetic_dir>/<label>/samples.tsv`` + ``samples.npy`` [+ ``latents.npy``]) into::

    <out_dir>/dataset_description.json     DatasetType derivative, GeneratedBy (medaug version, code commit,
                                           the dvc.lock hash of each label's model), SourceDatasets
    <out_dir>/participants.tsv             participant_id, <label column of the source dataset>
    <out_dir>/participants.json            that column's levels
    <out_dir>/sub-synth<label><n>/anat/sub-synth<label><n>_space-<template>_desc-synthetic_T1w.nii.gz
    <out_dir>/sub-synth<label><n>/anat/sub-synth<label><n>_space-<template>_desc-synthetic_T1w.json

Each sidecar names the label, the model (type, weights sha256, dvc.lock hash), the sampler, the seed,
the latent code that was decoded, the chain's acceptance rate and the nearest training volume (RMS
difference inside the training volumes' mask, the measure of :mod:`medaug.audit.memorisation`).
The volumes lie on the model-ready grid (``preprocess.target_shape``) in the template space of
stage ``preprocess`` (:data:`medaug.preprocess.template.TEMPLATE_SPACE`), intensities in [0, 1].

:func:`export_training_tsv` writes the real training split and the synthetic images as one TSV in
clinicadl's convention (``participant_id``, ``session_id``, ``diagnosis``) plus ``origin`` and ``path``.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

import medaug
from medaug.audit.memorisation import brain_mask, masked_rms_distances
from medaug.bids.layout import read_table
from medaug.io import atomic_directory, atomic_path, write_json, write_tsv
from medaug.preprocess.template import TEMPLATE_SPACE
from medaug.synthetic import LATENTS_NAME, read_synthetic, save_synthetic_nifti
from medaug.volumes import load_label_volumes

__all__ = ["ExportError", "LATENTS_NAME", "export_training_tsv", "model_lock_hash", "participant_label", "run",
           "synthetic_image_name"]

BIDS_VERSION = "1.9.0"


class ExportError(ValueError):
    """A table or folder the export needs is missing or inconsistent; the message names it."""


def participant_label(label: str, index: int, width: int = 4) -> str:
    """``synth<label><index + 1, zero-padded>``: a BIDS participant label (letters and digits only)."""
    if not re.fullmatch(r"[A-Za-z0-9]+", label):
        raise ValueError(f"label {label!r} must be letters and digits to name a BIDS participant")
    return f"synth{label}{index + 1:0{width}d}"


def synthetic_image_name(participant: str, space: str = TEMPLATE_SPACE) -> str:
    """BIDS file stem of one synthetic image: ``sub-<participant>_space-<space>_desc-synthetic_T1w``."""
    return f"sub-{participant}_space-{space}_desc-synthetic_T1w"


def model_lock_hash(lock_path: str | Path, model_dir: str | Path) -> str | None:
    """The md5 that ``dvc.lock`` records for the output folder ``model_dir`` (None if absent)."""
    lock_path = Path(lock_path)
    if not lock_path.is_file():
        return None
    lock = yaml.safe_load(lock_path.read_text()) or {}
    target = Path(model_dir).as_posix().rstrip("/")
    for stage in (lock.get("stages") or {}).values():
        for out in stage.get("outs") or []:
            if Path(out.get("path", "")).as_posix().rstrip("/") == target:
                return out.get("md5")
    return None


def _code_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip() or None


def _nearest_training(volumes: np.ndarray, train: np.ndarray, train_ids: list[str], mask: np.ndarray,
                      batch: int = 64) -> tuple[list[str], np.ndarray]:
    """(nearest training participant, its RMS distance) for each of ``volumes`` (n, D, H, W)."""
    names, distances = [], []
    for start in range(0, len(volumes), batch):
        d = masked_rms_distances(np.asarray(volumes[start:start + batch]), train, mask)
        nearest = d.argmin(axis=1)
        names.extend(train_ids[i] for i in nearest)
        distances.append(d[np.arange(len(nearest)), nearest])
    return names, np.concatenate(distances) if distances else np.zeros(0)


def _finite(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and not np.isfinite(value)) else value


def _generated_by(params: Mapping[str, Any], lock_path: str | Path) -> dict[str, str]:
    """The ``GeneratedBy`` entry of dataset_description.json: medaug's version, the code commit and
    the dvc.lock md5 of each label's model."""
    models_dir = Path(params["models_dir"])
    commit = _code_commit()
    return {"Name": "medaug", "Version": medaug.__version__,
            "Description": "Synthetic T1w volumes drawn from one generative model per label "
                           f"(code commit {commit or 'unknown'}; dvc.lock md5 of each model: "
                           + ", ".join(f"{lab} {model_lock_hash(lock_path, models_dir / lab) or 'unknown'}"
                                       for lab in params["labels"]) + ")",
            }


def _sidecar(params: Mapping[str, Any], label: str, sample: Any, latents: np.ndarray | None, lock_md5: str | None,
             nearest: str, distance: float) -> dict[str, Any]:
    """The JSON sidecar of one synthetic image (``sample``: a row of the label's samples.tsv)."""
    column = str(params["label_column"])
    return {
        "SkullStripped": bool(params.get("skull_stripped", True)),
        "Description": f"synthetic {column} = {label} volume, decoded from a latent code of the "
                       f"{sample.model} model of that label",
        column: label,
        "Model": {"Type": sample.model, "WeightsSHA256": sample.model_sha256,
                  "DVCLockMD5": lock_md5, "Path": (Path(params["models_dir"]) / label).as_posix()},
        "Sampler": sample.sampler,
        "Seed": int(sample.seed),
        "ParamsHash": sample.params_hash,
        "SampleIndex": int(sample.row),
        "LatentCode": None if latents is None else [round(float(v), 6) for v in latents[int(sample.row)]],
        "AcceptanceRate": _finite(float(sample.acceptance_rate)),
        "NearestTrainingNeighbour": {"participant_id": nearest, "RMSDifferenceInMask": round(float(distance), 6)},
    }


def _write_label(params: Mapping[str, Any], label: str, lock_path: str | Path, root: Path) -> tuple[list[dict], dict]:
    """Write one label's images and sidecars under ``root``; return its participants.tsv rows and summary."""
    column = str(params["label_column"])
    space = str(params.get("space") or TEMPLATE_SPACE)
    synthetic_dir = Path(params["synthetic_dir"])
    stack, table = read_synthetic(synthetic_dir / label)
    if stack is None:
        raise ExportError(f"{synthetic_dir / label}: samples.npy not found (stage sample writes it)")
    latents_path = synthetic_dir / label / LATENTS_NAME
    latents = np.load(latents_path) if latents_path.is_file() else None
    train, used = load_label_volumes(params["stack"], params["train_split"], label)
    train = train[:, 0].numpy()
    mask = brain_mask(train, float(params.get("mask_threshold", 0.1)))
    affine = np.asarray(json.loads(Path(f"{params['stack']}.json").read_text())["affine"], dtype=float)
    nearest, distances = _nearest_training(stack[table["row"].to_numpy()], train,
                                           used["participant_id"].astype(str).tolist(), mask)
    lock_md5 = model_lock_hash(lock_path, Path(params["models_dir"]) / label)
    rows = []
    for i, sample in enumerate(table.itertuples(index=False)):
        participant = participant_label(label, i)
        anat = root / f"sub-{participant}" / "anat"
        anat.mkdir(parents=True)
        stem = synthetic_image_name(participant, space)
        save_synthetic_nifti(stack[int(sample.row)], affine, anat / f"{stem}.nii.gz")
        write_json(_sidecar(params, label, sample, latents, lock_md5, nearest[i], distances[i]), anat / f"{stem}.json")
        rows.append({"participant_id": f"sub-{participant}", column: label})
    summary = {"n": int(len(table)),
               "median_nearest_training_rms": round(float(np.median(distances)), 6) if len(distances) else None}
    return rows, summary


def _write_dataset_files(params: Mapping[str, Any], rows: list[dict], generated: dict, root: Path) -> None:
    """participants.tsv, participants.json, dataset_description.json and README under ``root``."""
    column = str(params["label_column"])
    write_tsv(pd.DataFrame(rows, columns=["participant_id", column]), root / "participants.tsv")
    write_json({column: {"Description": f"label of the source dataset's {column} column the model was "
                                        "trained on", "Levels": {lab: f"synthetic {lab}" for lab in params["labels"]}}},
               root / "participants.json")
    write_json({"Name": "medaug synthetic cohort", "BIDSVersion": BIDS_VERSION, "DatasetType": "derivative",
                "GeneratedBy": [generated],
                "SourceDatasets": [{"URL": url} for url in params.get("source_datasets") or []]},
               root / "dataset_description.json")
    (root / "README").write_text(
        "Synthetic T1-weighted volumes written by medaug (stage derivatives). Each image's JSON sidecar names\n"
        "its label, model, sampler, seed and latent code, and its nearest training volume.\n")


def run(params: Mapping[str, Any], lock_path: str | Path = "dvc.lock") -> dict[str, Any]:
    """Write the derivatives dataset of ``params`` (the ``derivatives`` section) atomically.

    Returns a summary: images per label and the median nearest-training distance of each label.
    """
    generated = _generated_by(params, lock_path)
    rows, summary = [], {"labels": {}}
    with atomic_directory(params["out_dir"]) as tmp:
        for label in params["labels"]:
            label_rows, summary["labels"][label] = _write_label(params, label, lock_path, Path(tmp))
            rows += label_rows
        _write_dataset_files(params, rows, generated, Path(tmp))
    return summary


def export_training_tsv(params: Mapping[str, Any], output: str | Path | None = None,
                        split: str | None = None) -> pd.DataFrame:
    """One TSV of the real training split and the synthetic derivatives; returns the table written.

    Columns: ``participant_id``, ``session_id``, ``diagnosis`` (the label), ``origin`` (``real`` /
    ``synthetic``), ``path`` (real: the participant's CAPS t1-linear crop folder image, which clinicadl
    reads by participant and session; synthetic: the derivative NIfTI), ``stack_row`` (real: the row
    of the model-ready stack on the synthetic images' grid).
    """
    deriv = params["derivatives"]
    out_dir = Path(deriv["out_dir"])
    split_path = Path(params["train_vae"]["splits_dir"]) / f"{split or params['train_vae']['train_split']}.tsv"
    real = read_table(split_path, ("participant_id", "session_id", "diagnosis"))
    index = read_table(f"{deriv['stack']}.tsv", ("participant_id", "session_id", "row"))
    rows = dict(zip(zip(index["participant_id"].astype(str), index["session_id"].astype(str)), index["row"]))
    cohort = params["classify"]["training_cohort"]
    caps = Path(params["preprocess"]["caps_dir"]) / cohort / "subjects"
    real_rows = []
    for r in real.itertuples(index=False):
        crops = sorted((caps / r.participant_id / r.session_id / "t1_linear").glob("*_desc-Crop_*T1w.nii.gz"))
        real_rows.append({"participant_id": r.participant_id, "session_id": r.session_id, "diagnosis": r.diagnosis,
                          "origin": "real", "path": crops[0].as_posix() if crops else None,
                          "stack_row": rows.get((r.participant_id, r.session_id))})
    participants_tsv = out_dir / "participants.tsv"
    synthetic = read_table(participants_tsv, ("participant_id", deriv["label_column"]))
    synth_rows = []
    for r in synthetic.itertuples(index=False):
        participant = r.participant_id[4:]
        path = out_dir / r.participant_id / "anat" / f"{synthetic_image_name(participant, deriv.get('space') or TEMPLATE_SPACE)}.nii.gz"
        if not path.is_file():
            raise ExportError(f"{participants_tsv}: {r.participant_id} has no image {path}")
        synth_rows.append({"participant_id": r.participant_id, "session_id": "ses-M000",
                           "diagnosis": getattr(r, deriv["label_column"]), "origin": "synthetic",
                           "path": path.as_posix(), "stack_row": None})
    table = pd.DataFrame(real_rows + synth_rows, columns=["participant_id", "session_id", "diagnosis", "origin",
                                                          "path", "stack_row"])
    table["stack_row"] = table["stack_row"].astype("Int64")
    target = Path(output or deriv["export"])
    with atomic_path(target) as tmp:
        write_tsv(table, tmp)
    return table
