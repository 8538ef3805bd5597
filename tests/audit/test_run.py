"""medaug.audit.run: the stage on a tiny cohort where one synthetic volume is a planted copy of a
training volume, and its report section."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from medaug.audit import run as stage
from medaug.classify import build_classifier, save_classifier
from medaug.report.audit_section import audit_markdown
from tests._classify_fixtures import SHAPE, make_classification_cohort
from tests.audit._shared import CRITERIA, SMALL_MS_SSIM


def audit_params(root, classify: dict) -> dict:
    return {
        "stack": classify["model_ready"].format(cohort="tiny"),
        "splits_dir": f"{classify['splits_dir']}/tiny",
        "train_split": "train", "held_out_splits": ["validation", "test"], "test_split": "test",
        "synthetic": {"hmc": classify["synthetic_dir"]},
        "labels": ["CN", "AD"], "max_synthetic": 10,
        "results_dir": str(root / "results" / "audit"), "metrics": str(root / "metrics" / "audit.json"),
        "seed": 0, "threads": 1, "dpi": 40,
        "memorisation": {"mask_threshold": 0.1, "n_candidates": 3, "ssim_sigma": 1.5, "ssim_radius": 3,
                         "ssim_min": 0.95, "l2_max": 0.005},
        "diversity": {"max_pairs": 10, **SMALL_MS_SSIM},
        "fidelity": {"classifier_dir": classify["out_dir"], "real_trainset": "real", "runs": [0, 1],
                     "gan_train": {"hmc": "synthetic"}, "k": 3, "batch_size": 8},
        "regions": {"enabled": False, "min_weight": 0.5, "dark_threshold": {"mtl": 0.6, "ventricles": 0.4}},
        "reference": {"models_dir": str(root / "models"), "latent_size": 2},
        "criteria": dict(CRITERIA),
        "montage": {"volumes": 3, "views": ["coronal", "axial"]},
    }


def test_stage_flags_a_planted_copy_and_writes_finite_metrics(tmp_path):
    classify = make_classification_cohort(tmp_path)
    torch.manual_seed(0)
    for trainset in ("real", "synthetic"):
        for run in (0, 1):
            save_classifier(tmp_path / "classify" / trainset / f"run-{run}", build_classifier("small", SHAPE).eval())
    params = audit_params(tmp_path, classify)
    # plant a copy of one AD training volume as synthetic AD sample 2
    stack = np.load(params["stack"] + ".npy")
    index = pd.read_csv(params["stack"] + ".tsv", sep="\t")
    victim = pd.read_csv(f"{params['splits_dir']}/train.tsv", sep="\t").query("diagnosis == 'AD'")["participant_id"].iloc[0]
    samples_path = tmp_path / "synthetic" / "AD" / "samples.npy"
    samples = np.load(samples_path)
    samples[2] = stack[int(index.set_index("participant_id").loc[victim, "row"])]
    np.save(samples_path, samples)

    metrics = stage.run(params)

    results = tmp_path / "results" / "audit"
    neighbours = pd.read_csv(results / "neighbours.tsv", sep="\t")
    flagged = neighbours[neighbours["near_copy"].astype(str) == "True"]
    assert flagged["participant_id"].tolist() == ["syn-AD-000002"]
    assert flagged["nn_l2_participant"].tolist() == [victim]
    entry = metrics["by_sampler"]["hmc"]["AD"]
    assert entry["n_near_copies"] == 1 and entry["share_closer_l2"] >= 0.1  # the copy (+ chance)
    assert metrics["by_sampler"]["hmc"]["CN"]["n_near_copies"] == 0
    assert {"baseline_mean", "gan_train_mean", "gan_test_mean"} <= set(metrics["gan"]["hmc"])
    assert "not an ImageNet" in metrics["note"]
    for name in ("audit.tsv", "gan.tsv", "diversity.tsv", "fidelity.tsv", "memorisation.png", "diversity.png"):
        assert (results / name).is_file(), name
    text = json.dumps(json.loads((tmp_path / "metrics" / "audit.json").read_text()))
    assert "NaN" not in text and "Infinity" not in text

    checks = metrics["checks"]["hmc"]
    assert set(checks) == {"CN", "AD"} and metrics["criteria"] == CRITERIA
    ad = checks["AD"]
    assert {"ms_ssim", "ms_ssim_pca_reference", "ms_ssim_limit", "diversity_ok", "precision", "recall", "fidelity_ok",
            "near_copies", "memorisation_ok", "passed", "ms_ssim_real_train", "rms_synthetic", "rms_real_train",
            "rms_pca_reference", "pca_rank", "pca_explained_variance"} <= set(ad)
    assert ad["near_copies"] == 1 and ad["memorisation_ok"] is False and ad["passed"] is False
    assert ad["ms_ssim_limit"] == pytest.approx(ad["ms_ssim_pca_reference"] + 0.02)
    assert ad["diversity_ok"] == (ad["ms_ssim"] <= ad["ms_ssim_limit"])
    assert ad["fidelity_ok"] == (ad["precision"] >= 0.5 and ad["recall"] >= 0.3)
    assert ad["pca_rank"] == 2 and 0.0 < ad["pca_explained_variance"] < 1.0
    assert ad["n_classifier_runs"] == 2 and checks["CN"]["memorisation_ok"] is True
    # the PCA-2 reconstructions of 12 noisy volumes are smoother, so less varied, than the volumes
    assert ad["ms_ssim_pca_reference"] > ad["ms_ssim_real_train"] and ad["rms_pca_reference"] < ad["rms_real_train"]
    diversity = pd.read_csv(results / "diversity.tsv", sep="\t")
    assert set(diversity["group"]) == {"real train", "real held-out", "real train PCA-d", "hmc"}
    assert (results / "checks.tsv").is_file()
    for label in ("CN", "AD"):
        assert (results / f"montage_{label}.png").is_file(), label

    markdown = audit_markdown(results, link_prefix="../audit")
    assert "MS-SSIM PCA-d" in markdown and "+ 0.02" in markdown and "recall >= 0.3" in markdown
    assert "| hmc | AD |" in markdown and "**no**" in markdown                 # the planted copy fails
    assert "](../audit/montage_AD.png)" in markdown and "| real train PCA-d | AD |" in markdown
    assert "| hmc | AD |" in markdown and "not** an ImageNet" in markdown
    assert "](../audit/memorisation.png)" in markdown and "regions.png" not in markdown
    assert "GAN-train BA" in markdown and "GAN-test sd" in markdown
    assert "| hmc | AD | " in markdown and " | 1 | " in markdown            # the near-copy count


def test_stage_names_a_missing_synthetic_set(tmp_path):
    classify = make_classification_cohort(tmp_path)
    params = audit_params(tmp_path, classify)
    params["synthetic"] = {"gmm": str(tmp_path / "nowhere")}
    with pytest.raises(FileNotFoundError, match="nowhere"):
        stage.run(params)
