"""Preprocess a cohort and write its tables, model-ready stack and QC montage.

Outputs under ``out_dir``::

    images.tsv            every job: participant_id, session_id, source, status (ok / qc_flagged /
                          error), ncc, head_fit, head_margin_mm, pose_check_mm, pose_check_deg,
                          pose_check_axis, pose_adopted (the registration was redone from the
                          better pose the pose check found, which then passed), qc_pass, qc_reason,
                          in_model_ready,
                          error (the same bytes on every run: wall times and reuse are in
                          :func:`run_summary`, which the stage writes to its metrics)
    model_ready.npy|.tsv|.json   the stack of model-ready volumes (see :mod:`model_ready`)
    qc_montage.png        one row per image that got through registration; a flagged one in red,
                          with its reason

QC has three checks: NCC with the template inside its brain mask (on the template grid); the head
fit of :mod:`medaug.preprocess.head_qc` (in native space, against the image's own head outline:
a brain too small, too large or off-centre); and the pose check of
:mod:`medaug.preprocess.pose_check` (registrations restarted from the pose turned by +-15 degrees
find a better pose: a rotation the other two cannot see). Any one failing flags the image;
``qc_reason`` says which and why.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from medaug.io import write_tsv
from medaug.preprocess.head_qc import MIN_HEAD_FIT, head_fit_reason
from medaug.preprocess.model_ready import downsample, write_stack
from medaug.preprocess.pose_check import MAX_POSE_MM, pose_check_reason
from medaug.preprocess.qc import save_qc_montage
from medaug.preprocess.pool import ImageJob, ImageOutcome, PreprocessSettings, process_images
from medaug.preprocess.t1_linear import cropped_template
from medaug.preprocess.template import TEMPLATE_SPACE

IMAGE_COLUMNS = ["participant_id", "session_id", "source", "status", "ncc", "head_fit", "head_margin_mm",
                 "pose_check_mm", "pose_check_deg", "pose_check_axis", "pose_adopted", "qc_pass", "qc_reason", "in_model_ready", "error"]
"""The columns of ``images.tsv``."""

RUN_COLUMNS = ["reused", "seconds"]
"""Columns of the returned table that describe this run, not the images; left out of ``images.tsv``."""


def qc_reason(outcome: ImageOutcome, qc_threshold: float, head_fit_threshold: float = MIN_HEAD_FIT,
              pose_max_mm: float = MAX_POSE_MM) -> str:
    """Why an image that went through registration fails QC (``"; "``-joined), ``""`` when it passes.

    NCC below ``qc_threshold``, a head-fit score below ``head_fit_threshold`` (a NaN head fit,
    not computed or too few rays inside the field of view, does not flag), or a pose check further
    than ``pose_max_mm`` (NaN: not run, does not flag).
    """
    reasons = []
    if not outcome.ncc >= qc_threshold:
        reasons.append(f"NCC {outcome.ncc:.3f} < {qc_threshold:g}")
    head = head_fit_reason(outcome.head_fit, outcome.head_margin_mm, head_fit_threshold)
    if head:
        reasons.append(head)
    pose = pose_check_reason(outcome.pose_mm, outcome.pose_deg, outcome.pose_axis, pose_max_mm)
    if pose:
        reasons.append(pose)
    return "; ".join(reasons)


def outcomes_table(outcomes: Sequence[ImageOutcome], qc_threshold: float, exclude_flagged: bool,
                   head_fit_threshold: float = MIN_HEAD_FIT, pose_max_mm: float = MAX_POSE_MM) -> pd.DataFrame:
    """One row per outcome with its QC decision (any QC check failing -> ``qc_flagged``)."""
    rows = []
    for o in outcomes:
        reason = qc_reason(o, qc_threshold, head_fit_threshold, pose_max_mm) if o.status == "ok" else ""
        qc_pass = o.status == "ok" and not reason
        status = o.status if o.status != "ok" or qc_pass else "qc_flagged"
        rows.append({
            "participant_id": o.participant_id, "session_id": o.session_id, "source": o.source,
            "status": status, "ncc": round(o.ncc, 4) if o.status == "ok" else np.nan,
            "head_fit": round(o.head_fit, 4) if o.status == "ok" else np.nan,
            "head_margin_mm": round(o.head_margin_mm, 1) if o.status == "ok" else np.nan,
            "pose_check_mm": round(o.pose_mm, 2) if o.status == "ok" else np.nan,
            "pose_check_deg": round(o.pose_deg, 1) if o.status == "ok" else np.nan,
            "pose_check_axis": o.pose_axis if o.status == "ok" else "",
            "pose_adopted": bool(o.pose_adopted),
            "qc_pass": qc_pass, "qc_reason": reason,
            "in_model_ready": o.status == "ok" and (qc_pass or not exclude_flagged),
            "reused": o.reused, "seconds": o.seconds, "error": o.error,
        })
    return pd.DataFrame(rows, columns=IMAGE_COLUMNS + RUN_COLUMNS)


def run_summary(table: pd.DataFrame) -> dict:
    """Counts and timing of one run of :func:`preprocess_cohort` (its returned table), for the metrics.

    ``median_seconds_per_image`` is over the images registered in this run (None when every image
    was reused or failed before registration).
    """
    registered = table[(table["status"] != "error") & ~table["reused"].astype(bool)]
    return {
        "images": len(table),
        "status": {status: int(n) for status, n in table["status"].value_counts().sort_index().items()},
        "in_model_ready": int(table["in_model_ready"].astype(bool).sum()),
        "reused": int(table["reused"].astype(bool).sum()),
        "median_seconds_per_image": round(float(registered["seconds"].median()), 3) if len(registered) else None,
    }


def preprocess_cohort(jobs: Sequence[ImageJob], settings: PreprocessSettings, out_dir: str | Path, *,
                      n_jobs: int = 1, itk_threads: int = 1, qc_threshold: float = 0.8,
                      exclude_flagged: bool = True, progress: bool = True, name: str = "",
                      head_fit_threshold: float = MIN_HEAD_FIT) -> pd.DataFrame:
    """Run every job, then write ``images.tsv``, the model-ready stack and the QC montage.

    Returns the table of ``images.tsv`` with :data:`RUN_COLUMNS` added (see :func:`run_summary`).
    """
    out_dir = Path(out_dir)
    outcomes: list[ImageOutcome | None] = [None] * len(jobs)
    bar = tqdm(total=len(jobs), desc=f"preprocess {name}".strip(), unit="image", disable=not progress)
    failures = 0
    for index, outcome in process_images(jobs, settings, n_jobs=n_jobs, itk_threads=itk_threads):
        outcomes[index] = outcome
        failures += outcome.status != "ok"
        bar.update(1)
        bar.set_postfix(failed=failures)
    bar.close()
    done = [o for o in outcomes if o is not None]
    pose_max_mm = settings.pose_check_max_mm if settings.pose_check_max_mm is not None else MAX_POSE_MM
    table = outcomes_table(done, qc_threshold, exclude_flagged, head_fit_threshold, pose_max_mm)

    kept = [o for o, keep in zip(done, table["in_model_ready"]) if keep]
    template = cropped_template(settings.t1_linear)
    affine = kept[0].volume_affine if kept else None
    metadata = {
        "space": TEMPLATE_SPACE,
        "affine": None if affine is None else np.round(affine, 6).tolist(),
        "voxel_size_mm": None if affine is None else np.round(np.linalg.norm(affine[:3, :3], axis=0), 6).tolist(),
        "crop_shape": list(settings.t1_linear.crop_shape),
        "rescale": {"method": "min-max", "percentiles": list(settings.rescale_percentiles)},
        "antialias": settings.antialias,
        "brain_mask_mm": settings.brain_mask_mm,
        "shape": list(settings.target_shape or settings.t1_linear.crop_shape),
    }
    index = pd.DataFrame({"participant_id": [o.participant_id for o in kept],
                          "session_id": [o.session_id for o in kept]})
    write_stack(out_dir / "model_ready", [o.volume for o in kept], index, metadata)

    shown = [o for o in done if o.volume is not None]
    mask = np.asarray(template.brain_mask.dataobj, dtype=np.float32)
    if settings.target_shape is not None:
        mask = downsample(mask, settings.target_shape, settings.antialias) >= 0.5
    keys = list(zip(table["participant_id"], table["session_id"]))
    flagged = dict(zip(keys, table["status"] == "qc_flagged"))
    reasons = dict(zip(keys, table["qc_reason"]))
    save_qc_montage(
        out_dir / "qc_montage.png", [o.volume for o in shown], mask,
        labels=[_montage_label(o, reasons[(o.participant_id, o.session_id)]) for o in shown],
        flagged=[bool(flagged[(o.participant_id, o.session_id)]) for o in shown],
    )
    write_tsv(table[IMAGE_COLUMNS], out_dir / "images.tsv")
    return table



def _montage_label(outcome: ImageOutcome, reason: str) -> str:
    label = f"{outcome.participant_id} {outcome.session_id}  NCC {outcome.ncc:.3f}  head fit {outcome.head_fit:.2f}"
    if not np.isnan(outcome.pose_mm):
        label += f"  pose {outcome.pose_mm:.1f} mm"
    short = re.sub(r" \([^)]*\)", "", reason)  # without the explanations: the full reason is in images.tsv
    return f"{label}\nFLAGGED: {short}" if reason else label
