"""Synthetic-data audit (issue 10): metric functions on tiny arrays, and the stage on a tiny cohort
where one synthetic volume is a planted copy of a training volume."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import linalg

from medaug.audit import (
    audit_markdown,
    brain_mask,
    dark_fraction,
    frechet_distance,
    gaussian_region_weight,
    grid_coordinates,
    masked_rms_distances,
    masked_ssim,
    mean_intensity,
    mean_pairwise_ms_ssim,
    memorisation_summary,
    nearest_neighbours,
    penultimate_features,
    precision_recall,
    sample_pairs,
)
from medaug.classify import build_classifier, save_classifier
from tests._classify_fixtures import SHAPE, make_classification_cohort

SMALL_MS_SSIM = {"weights": [0.0711, 0.4530, 0.4759], "kernel_size": 3, "kernel_sigma": 1.0}


def smooth_volumes(n: int, shape=(12, 14, 12), seed: int = 0) -> np.ndarray:
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n, *shape))
    return np.clip(0.5 + 2.0 * np.stack([ndimage.gaussian_filter(v, 1.5) for v in noise]), 0, 1).astype(np.float32)


# --- memorisation ---------------------------------------------------------------------------------

def test_rms_distances_match_direct_computation():
    volumes = smooth_volumes(5)
    mask = brain_mask(volumes, 0.0)
    mask[:2] = False
    d = masked_rms_distances(volumes[:2], volumes[2:], mask)
    direct = np.sqrt(((volumes[1][mask] - volumes[3][mask]).astype(float) ** 2).mean())
    assert d.shape == (2, 3)
    assert d[1, 1] == pytest.approx(direct, rel=1e-6)
    assert masked_rms_distances(volumes[:1], volumes[:1], mask)[0, 0] == pytest.approx(0.0, abs=1e-6)


def test_ssim_is_one_for_identical_and_lower_for_different_volumes():
    volumes = smooth_volumes(3)
    mask = np.ones(volumes.shape[1:], dtype=bool)
    same = masked_ssim(volumes[:1], volumes[:1], mask)
    other = masked_ssim(volumes[:1], volumes[1:2], mask)
    noisier = masked_ssim(volumes[:1], np.clip(volumes[:1] + 0.2 * np.random.default_rng(1).standard_normal(volumes[:1].shape), 0, 1), mask)
    assert same[0] == pytest.approx(1.0, abs=1e-6)
    assert other[0] < 0.9 and noisier[0] < same[0]


def test_brain_mask_rejects_empty_masks():
    with pytest.raises(ValueError, match="no voxel"):
        brain_mask(np.zeros((2, 3, 3, 3)), 0.1)


def test_planted_copy_is_nearest_and_flagged_while_held_out_are_not():
    train, held_out, synthetic = smooth_volumes(8, seed=0), smooth_volumes(4, seed=1), smooth_volumes(6, seed=2)
    synthetic[3] = train[5]                                                # the planted copy
    mask = brain_mask(train, 0.1)
    nn = nearest_neighbours(synthetic, train, mask, n_candidates=3)
    held = nearest_neighbours(held_out, train, mask, n_candidates=3)
    assert nn.l2_index[3] == 5 and nn.ssim_index[3] == 5
    assert nn.l2[3] == pytest.approx(0.0, abs=1e-6) and nn.ssim[3] == pytest.approx(1.0)
    summary = memorisation_summary(nn, held, ssim_min=0.95, l2_max=0.01)
    assert summary["n_near_copies"] == 1
    assert summary["share_closer_l2"] == pytest.approx(1 / 6)
    assert summary["share_closer_ssim"] >= 1 / 6          # the copy, maybe a chance neighbour too
    assert nn.ssim[3] > held.ssim.max()
    assert held.ssim.max() < 0.95


def test_ssim_search_over_all_candidates_is_exact():
    train, queries = smooth_volumes(5, seed=3), smooth_volumes(2, seed=4)
    mask = np.ones(train.shape[1:], dtype=bool)
    nn = nearest_neighbours(queries, train, mask, n_candidates=99)
    for i in range(2):
        scores = masked_ssim(np.repeat(queries[i:i + 1], 5, 0), train, mask)
        assert nn.ssim[i] == pytest.approx(scores.max()) and nn.ssim_index[i] == int(np.argmax(scores))


# --- diversity ------------------------------------------------------------------------------------

def test_sample_pairs_are_distinct_and_capped():
    pairs = sample_pairs(10, 7, seed=0)
    assert pairs.shape == (7, 2) and (pairs[:, 0] < pairs[:, 1]).all()
    assert len({tuple(p) for p in pairs}) == 7
    assert len(sample_pairs(4, 100, 0)) == 6 and len(sample_pairs(1, 100, 0)) == 0


def test_ms_ssim_diversity_detects_a_collapsed_set():
    varied = smooth_volumes(4, shape=(16, 20, 16))
    collapsed = np.repeat(varied[:1], 4, axis=0)
    high = mean_pairwise_ms_ssim(collapsed, 10, 0, **SMALL_MS_SSIM)
    low = mean_pairwise_ms_ssim(varied, 10, 0, **SMALL_MS_SSIM)
    assert high["ms_ssim_mean"] == pytest.approx(1.0, abs=1e-5) and high["n_pairs"] == 6
    assert low["ms_ssim_mean"] < 0.9
    assert mean_pairwise_ms_ssim(varied[:1], 10, 0, **SMALL_MS_SSIM)["ms_ssim_mean"] is None


# --- fidelity -------------------------------------------------------------------------------------

def test_frechet_distance_matches_scipy_sqrtm_and_mean_shift():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((200, 4)), 1.5 * rng.standard_normal((150, 4)) + 0.3
    mu_a, mu_b, ca, cb = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = ((mu_a - mu_b) ** 2).sum() + np.trace(ca + cb - 2 * linalg.sqrtm(ca @ cb).real)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
    shift = np.array([1.0, 2.0, 0.0, 0.0])
    assert frechet_distance(a, a + shift) == pytest.approx(5.0, rel=1e-6)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    with pytest.raises(ValueError):
        frechet_distance(a[:1], b)


def test_precision_recall_on_overlapping_and_disjoint_sets():
    rng = np.random.default_rng(0)
    real = rng.standard_normal((60, 3))
    assert precision_recall(real, real.copy(), k=3) == {"precision": 1.0, "recall": 1.0}
    far = precision_recall(real, real + 100.0, k=3)
    assert far == {"precision": 0.0, "recall": 0.0}
    collapsed = precision_recall(real, np.zeros((20, 3)) + rng.standard_normal((20, 3)) * 1e-3, k=3)
    assert collapsed["precision"] == 1.0 and collapsed["recall"] < 0.5   # realistic but not diverse


def test_penultimate_features_feed_the_last_layer():
    model = build_classifier("small", SHAPE).eval()
    images = torch.rand(3, 1, *SHAPE)
    features = penultimate_features(model, images, batch_size=2)
    assert features.shape == (3, model.classifier[-1].in_features)
    logits = model.classifier[-1](torch.from_numpy(features).float())
    assert torch.allclose(logits, model(images), atol=1e-5)


# --- regions --------------------------------------------------------------------------------------

def test_region_weight_and_dark_fraction_on_a_known_grid():
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = [-10.0, -10.0, -10.0]
    xyz = grid_coordinates((11, 11, 11), affine)
    assert np.allclose(xyz[:, 5, 5, 5], 0.0)
    weight = gaussian_region_weight(xyz, [(4.0, 0.0, 0.0)], (2.0, 2.0, 2.0), mirror_x=True)
    assert weight[7, 5, 5] == pytest.approx(1.0) and weight[3, 5, 5] == pytest.approx(1.0)
    assert weight[5, 5, 5] == pytest.approx(np.exp(-2.0))
    region = weight >= 0.5
    volumes = np.ones((2, 11, 11, 11), dtype=np.float32)
    volumes[1, 7, 5, 5] = 0.0
    assert dark_fraction(volumes, region, 0.3).tolist() == [0.0, 1.0 / region.sum()]
    assert mean_intensity(volumes, region).tolist() == pytest.approx([1.0, 1.0 - 1.0 / region.sum()])
    with pytest.raises(ValueError, match="no voxel"):
        dark_fraction(volumes, np.zeros((11, 11, 11), bool), 0.3)


# --- the stage ------------------------------------------------------------------------------------

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
    }


def test_stage_flags_a_planted_copy_and_writes_finite_metrics(tmp_path):
    from pipelines import audit as stage

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

    markdown = audit_markdown(results, link_prefix="../audit")
    assert "| hmc | AD |" in markdown and "not** an ImageNet" in markdown
    assert "](../audit/memorisation.png)" in markdown and "regions.png" not in markdown
    assert "GAN-train BA" in markdown and "GAN-test sd" in markdown
    assert "| hmc | AD | " in markdown and " | 1 | " in markdown            # the near-copy count


def test_audit_markdown_names_the_missing_table(tmp_path):
    with pytest.raises(FileNotFoundError, match="audit.tsv"):
        audit_markdown(tmp_path)


def test_stage_names_a_missing_synthetic_set(tmp_path):
    from pipelines import audit as stage

    classify = make_classification_cohort(tmp_path)
    params = audit_params(tmp_path, classify)
    params["synthetic"] = {"gmm": str(tmp_path / "nowhere")}
    with pytest.raises(FileNotFoundError, match="nowhere"):
        stage.run(params)
