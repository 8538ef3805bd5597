"""Preprocess a cohort and write its tables, model-ready stack and QC montage.

Outputs under ``out_dir``::

    images.tsv            every job: participant_id, session_id, source, status (ok / qc_flagged /
                          error), ncc, qc_pass, in_model_ready, reused, seconds, error
    model_ready.npy|.tsv|.json   the stack of model-ready volumes (see :mod:`model_ready`)
    qc_montage.png        one row per image that got through registration
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from medaug.io import write_tsv
from medaug.preprocess.model_ready import downsample, write_stack
from medaug.preprocess.qc import save_qc_montage
from medaug.preprocess.run import ImageJob, ImageOutcome, PreprocessSettings, process_images
from medaug.preprocess.t1_linear import cropped_template
from medaug.preprocess.template import TEMPLATE_SPACE

IMAGE_COLUMNS = ["participant_id", "session_id", "source", "status", "ncc", "qc_pass", "in_model_ready",
                 "reused", "seconds", "error"]


def outcomes_table(outcomes: Sequence[ImageOutcome], qc_threshold: float, exclude_flagged: bool) -> pd.DataFrame:
    """One row per outcome with its QC decision (NCC under ``qc_threshold`` -> ``qc_flagged``)."""
    rows = []
    for o in outcomes:
        qc_pass = o.status == "ok" and bool(o.ncc >= qc_threshold)
        status = o.status if o.status != "ok" or qc_pass else "qc_flagged"
        rows.append({
            "participant_id": o.participant_id, "session_id": o.session_id, "source": o.source,
            "status": status, "ncc": round(o.ncc, 4) if o.status == "ok" else np.nan, "qc_pass": qc_pass,
            "in_model_ready": o.status == "ok" and (qc_pass or not exclude_flagged),
            "reused": o.reused, "seconds": o.seconds, "error": o.error,
        })
    return pd.DataFrame(rows, columns=IMAGE_COLUMNS)


def preprocess_cohort(jobs: Sequence[ImageJob], settings: PreprocessSettings, out_dir: str | Path, *,
                      n_jobs: int = 1, itk_threads: int = 1, qc_threshold: float = 0.8,
                      exclude_flagged: bool = True, progress: bool = True, name: str = "") -> pd.DataFrame:
    """Run every job, then write ``images.tsv``, the model-ready stack and the QC montage; return the table."""
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
    table = outcomes_table(done, qc_threshold, exclude_flagged)

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
        "shape": list(settings.target_shape or settings.t1_linear.crop_shape),
    }
    index = pd.DataFrame({"participant_id": [o.participant_id for o in kept],
                          "session_id": [o.session_id for o in kept]})
    write_stack(out_dir / "model_ready", [o.volume for o in kept], index, metadata)

    shown = [o for o in done if o.volume is not None]
    mask = np.asarray(template.brain_mask.dataobj, dtype=np.float32)
    if settings.target_shape is not None:
        mask = downsample(mask, settings.target_shape, settings.antialias) >= 0.5
    flagged = dict(zip(zip(table["participant_id"], table["session_id"]), table["status"] == "qc_flagged"))
    save_qc_montage(
        out_dir / "qc_montage.png", [o.volume for o in shown], mask,
        labels=[f"{o.participant_id} {o.session_id}  NCC {o.ncc:.3f}" for o in shown],
        flagged=[bool(flagged[(o.participant_id, o.session_id)]) for o in shown],
    )
    write_tsv(table, out_dir / "images.tsv")
    return table

