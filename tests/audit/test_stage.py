"""medaug.audit.stage: the stage on a tiny cohort where one synthetic volume is a planted copy of a
training volume, and its report section."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from medaug.audit import stage
from medaug.classify import build_classifier, save_classifier
from medaug.classify.labels import DEMO_CLASSES, ClassLabels
from medaug.report.audit_section import audit_markdown, load_audit
from tests._classify_fixtures import SHAPE, make_classification_cohort
from tests.audit._shared import CRITERIA, SMALL_MS_SSIM
from tests.audit.test_reconstruction import save_label_models


def save_models(params: dict) -> None:
    """A PPCA-started linear VAE per label, trained on nothing, at ``reference.models_dir``."""
    real = stage.real_sets(params, DEMO_CLASSES)
    save_label_models(Path(params["reference"]["models_dir"]), stage.label_arrays(real["train"], params["labels"]),
                      latent_size=2)


def audit_params(root, classify: dict) -> dict:
    return {
        "stack": classify["model_ready"].format(cohort="tiny"),
        "splits_dir": f"{classify['splits_dir']}/tiny",
        "train_split": "train", "held_out_splits": ["validation", "test"], "test_split": "test",
        "synthetic": {"hmc": classify["synthetic_dir"]},
        "labels": ["CN", "AD"], "max_synthetic": 10,
        "results_dir": str(root / "results" / "audit"), "metrics": str(root / "metrics" / "audit.json"),
        "seed": 0, "threads": 1, "dpi": 40,
        "mask": {"threshold": 0.1, "erode_voxels": 1},
        "memorisation": {"n_candidates": 3, "ssim_sigma": 1.5, "ssim_radius": 3,
                         "ssim_min": 0.95, "l2_max": 0.005, "reconstruction_quantile": 0.05, "batch_size": 4},
        "diversity": {"max_pairs": 10, **SMALL_MS_SSIM},
        "fidelity": {"classifier_dir": classify["out_dir"], "real_trainset": "real", "runs": [0, 1],
                     "gan_train": {"hmc": "synthetic"}, "draws": 5, "k": 3,
                     "batch_size": 8},
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
    save_models(params)
    # plant a copy of one AD training volume as synthetic AD sample 2
    stack = np.load(params["stack"] + ".npy")
    index = pd.read_csv(params["stack"] + ".tsv", sep="\t")
    victim = pd.read_csv(f"{params['splits_dir']}/train.tsv", sep="\t").query("diagnosis == 'AD'")["participant_id"].iloc[0]
    samples_path = tmp_path / "synthetic" / "AD" / "samples.npy"
    samples = np.load(samples_path)
    samples[2] = stack[int(index.set_index("participant_id").loc[victim, "row"])]
    np.save(samples_path, samples)

    metrics = stage.run(params, DEMO_CLASSES)

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
    assert {"ms_ssim", "ms_ssim_real_held_out", "ms_ssim_limit", "diversity_ok", "precision", "recall", "fidelity_ok",
            "near_copies", "near_copies_ok", "share_closer_than_reconstructions", "reconstruction_test_ok",
            "memorisation_ok", "passed", "ms_ssim_real_train", "ms_ssim_pca_reference", "ms_ssim_reconstructions",
            "ms_ssim_whole_volume", "variance_share", "variance_share_real_held_out", "precision_real_halves",
            "recall_real_halves", "precision_recall_set_size", "reconstruction_nn_threshold", "rms_synthetic",
            "rms_real_train", "rms_pca_reference", "pca_rank", "pca_explained_variance"} <= set(ad)
    assert ad["near_copies"] == 1 and ad["memorisation_ok"] is False and ad["passed"] is False
    # the bar is the real held-out volumes' in-mask MS-SSIM, not the PCA reference
    assert ad["ms_ssim_limit"] == pytest.approx(1.0 - 0.6 * (1.0 - ad["ms_ssim_real_held_out"]))
    assert ad["diversity_ok"] == (ad["ms_ssim"] <= ad["ms_ssim_limit"])
    assert ad["fidelity_ok"] == (ad["precision"] >= 0.5 and ad["recall"] >= 0.3)
    assert ad["precision_recall_set_size"] == 4                          # 8 held-out per label: halves of 4
    assert 0.0 <= ad["precision_real_halves"] <= 1.0 and 0.0 <= ad["recall_real_halves"] <= 1.0
    assert ad["reconstruction_test_ok"] == (ad["share_closer_than_reconstructions"] <= 0.15)
    assert ad["pca_rank"] == 2 and 0.0 < ad["pca_explained_variance"] < 1.0
    assert ad["n_classifier_runs"] == 2 and checks["CN"]["near_copies_ok"] is True
    assert 0.0 < ad["variance_share"] and 0.0 < ad["variance_share_real_held_out"]
    # the PCA-2 reconstructions of 12 noisy volumes are smoother, so less varied, than the volumes
    assert ad["ms_ssim_pca_reference"] > ad["ms_ssim_real_train"] and ad["rms_pca_reference"] < ad["rms_real_train"]
    assert ad["variance_share_pca_reference"] < 1.0 and ad["variance_share_reconstructions"] < 1.0
    diversity = pd.read_csv(results / "diversity.tsv", sep="\t")
    assert set(diversity["group"]) == {"real train", "real held-out", "real train PCA-d", "real held-out reconstructed",
                                       "hmc"}
    assert {"ms_ssim_mask_mean", "variance_share"} <= set(diversity.columns)
    fidelity = pd.read_csv(results / "fidelity.tsv", sep="\t")
    assert "real held-out halves" in set(fidelity["group"]) and (fidelity["n"] == 4).all()
    assert set(neighbours["group"]) == {"real held-out", "real held-out reconstructed", "hmc"}
    assert (results / "checks.tsv").is_file()
    for label in ("CN", "AD"):
        assert (results / f"montage_{label}.png").is_file(), label

    markdown = audit_markdown(load_audit(results), link_prefix="../audit")
    assert "MS-SSIM real held-out" in markdown and "at least 0.6 of that" in markdown and "recall >= 0.3" in markdown
    assert "variance share" in markdown and "real-vs-real" in markdown and "0.05 quantile" in markdown
    assert "| hmc | AD |" in markdown and "**no**" in markdown                 # the planted copy fails
    assert "](../audit/montage_AD.png)" in markdown and "| real train PCA-d | AD |" in markdown
    assert "not** an ImageNet" in markdown and "| real held-out halves | AD |" in markdown
    assert "](../audit/memorisation.png)" in markdown and "regions.png" not in markdown
    assert "GAN-train BA" in markdown and "GAN-test sd" in markdown
    assert "| hmc | AD | " in markdown and " | 1 | " in markdown            # the near-copy count


def test_stage_names_a_missing_model(tmp_path):
    classify = make_classification_cohort(tmp_path)
    params = audit_params(tmp_path, classify)
    with pytest.raises(FileNotFoundError, match="CN/model/model.json"):
        stage.run(params, DEMO_CLASSES)


def test_stage_names_a_missing_synthetic_set(tmp_path):
    classify = make_classification_cohort(tmp_path)
    params = audit_params(tmp_path, classify)
    params["synthetic"] = {"gmm": str(tmp_path / "nowhere")}
    with pytest.raises(FileNotFoundError, match="nowhere"):
        stage.run(params, DEMO_CLASSES)


def test_audit_reads_the_classifiers_labels(tmp_path):
    classify = make_classification_cohort(tmp_path, labels=("HC", "PD"))
    params = audit_params(tmp_path, classify)
    hc_pd = ClassLabels("HC", "PD")
    with pytest.raises(ValueError, match=r"audit.labels \['CN', 'AD'\]: \['CN', 'AD'\] not among the classifier's "
                                         r"classes classify.labels \{'negative': 'HC', 'positive': 'PD'\}"):
        stage.checked_audit_labels(params, hc_pd)
    params["labels"] = ["HC", "PD"]
    assert stage.checked_audit_labels(params, hc_pd) == ["HC", "PD"]
    real = stage.real_sets(params, hc_pd)
    assert real["train"].counts() == {"HC": 12, "PD": 12} and real["held_out"].counts() == {"HC": 8, "PD": 8}
    images, ids = stage.of_label(real["held_out"], "PD")
    assert images.shape == (8, *SHAPE) and all(i.startswith("sub-T") for i in ids)
    assert stage.synthetic_sets(params, hc_pd)["hmc"].counts() == {"HC": 10, "PD": 10}
