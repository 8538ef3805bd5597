"""Registration error of every preprocessed demo image against the generator's ground-truth pose.

    python -m benchmarks.studies.demo_registration --cohort demo-train [--params params.yaml]

The demo generator records, for every image, the map from MNI mm to scanner mm
(``derivatives/synth/sub-*/ses-*/*_groundtruth.json``, key ``world_from_mni``). t1-linear estimates
the same map (the CAPS ``*_affine.mat``). This prints, per site and for the sites with a neck, the
mean and worst distance between the two maps over the template brain mask (mm), and the QC
figures of ``images.tsv`` (NCC, head fit, flags). Not a test: it reads a finished ``preprocess``
stage's outputs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml


from medaug.preprocess import caps  # noqa: E402
from medaug.preprocess.t1_linear import native_from_template  # noqa: E402
from medaug.preprocess.template import load_template  # noqa: E402

TEMPLATE_SPACE = "MNI152NLin2009aSym"


def pose_error_mm(world_from_mni: np.ndarray, estimated: np.ndarray, mask_points: np.ndarray) -> tuple[float, float]:
    """(mean, max) distance in mm between two MNI -> scanner maps (4x4) over points (3, P) in MNI mm."""
    difference = np.asarray(world_from_mni, dtype=float) - np.asarray(estimated, dtype=float)
    distance = np.linalg.norm(difference[:3, :3] @ mask_points + difference[:3, 3:4], axis=0)
    return float(distance.mean()), float(distance.max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", default="demo-train")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--stride", type=int, default=50, help="every n-th brain-mask voxel")
    args = parser.parse_args()
    params = yaml.safe_load(Path(args.params).read_text())
    bids = Path(params["preprocess"]["bids_dir"]) / args.cohort
    caps_dir = Path(params["preprocess"]["caps_dir"]) / args.cohort
    table = pd.read_csv(Path(params["preprocess"]["out_dir"]) / args.cohort / "images.tsv", sep="\t")
    participants = pd.read_csv(bids / "participants.tsv", sep="\t").set_index("participant_id")
    sites = params["cohort"]["sites"]
    resolution_mm = int(params["preprocess"]["t1_linear"]["template_resolution_mm"])
    template = load_template(resolution_mm)
    mask = np.asarray(template.brain_mask.dataobj) > 0
    affine = np.asarray(template.brain_mask.affine, dtype=float)
    points = affine[:3, :3] @ np.argwhere(mask)[:: args.stride].T + affine[:3, 3:4]
    rows = []
    for row in table.itertuples():
        truth_path = bids / "derivatives" / "synth" / row.participant_id / row.session_id / (
            f"{row.participant_id}_{row.session_id}_groundtruth.json")
        matrix = caps.affine_path(caps_dir, row.participant_id, row.session_id, TEMPLATE_SPACE, resolution_mm)
        if row.status == "error" or not matrix.is_file():
            continue
        truth = json.loads(truth_path.read_text())["world_from_mni"]
        mean_mm, max_mm = pose_error_mm(np.asarray(truth), native_from_template(matrix), points)
        site = participants.loc[row.participant_id, "site"]
        rows.append({"participant_id": row.participant_id, "site": site, "neck": bool(sites.get(site, {}).get("neck", False)), "mean_mm": mean_mm,
                     "max_mm": max_mm, "ncc": row.ncc, "head_fit": getattr(row, "head_fit", np.nan),
                     "pose_check_mm": getattr(row, "pose_check_mm", np.nan), "qc_pass": row.qc_pass,
                     "qc_reason": getattr(row, "qc_reason", "")})
    frame = pd.DataFrame(rows)
    summary = frame.groupby(["site", "neck"]).agg(
        images=("mean_mm", "size"), mean_error_mm=("mean_mm", "mean"), worst_mean_error_mm=("mean_mm", "max"),
        worst_max_error_mm=("max_mm", "max"), over_2mm_mean=("mean_mm", lambda v: int((v > 2).sum())),
        over_4mm_max=("max_mm", lambda v: int((v > 4).sum())), median_ncc=("ncc", "median"),
        min_head_fit=("head_fit", "min"), flagged=("qc_pass", lambda v: int((~v.astype(bool)).sum())))
    print(summary.round(2).to_string())
    odd = frame[(frame.mean_mm > 2) | (frame.max_mm > 4) | ~frame.qc_pass.astype(bool)]
    print(f"\nimages over 2 mm mean or 4 mm max, or flagged: {len(odd)} of {len(frame)}")
    print(odd.round(2).to_string(index=False))


if __name__ == "__main__":
    main()
