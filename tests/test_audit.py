"""Synthetic-data audit: metric functions on tiny arrays (memorisation, diversity, the PCA reference,
the acceptance checks, fidelity), and the stage on a tiny cohort where one synthetic volume is a
planted copy of a training volume."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import linalg

from medaug.audit import (
    acceptance_checks,
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
    montage_indices,
    nearest_neighbours,
    pairwise_rms,
    pca_reconstruction,
    penultimate_features,
    precision_recall,
    reference_latent_size,
    sample_pairs,
    set_diversity,
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


def test_pairwise_rms_matches_direct_computation_and_is_zero_for_a_collapsed_set():
    volumes = smooth_volumes(4)
    mask = np.zeros(volumes.shape[1:], dtype=bool)
    mask[2:8] = True
    pairs = np.array([[0, 1], [2, 3]])
    direct = np.sqrt(((volumes[2][mask].astype(float) - volumes[3][mask]) ** 2).mean())
    assert pairwise_rms(volumes, pairs, mask)[1] == pytest.approx(direct)
    assert pairwise_rms(volumes, pairs)[0] == pytest.approx(np.sqrt(((volumes[0].astype(float) - volumes[1]) ** 2).mean()))
    collapsed = set_diversity(np.repeat(volumes[:1], 4, axis=0), 10, 0, **SMALL_MS_SSIM)
    assert collapsed["rms_mean"] == pytest.approx(0.0) and collapsed["n_pairs"] == 6


# --- PCA reference --------------------------------------------------------------------------------

def rank_d_volumes(n: int, d: int, shape=(6, 7, 5), seed: int = 0) -> np.ndarray:
    """n volumes mean + sum of d fixed patterns with random weights: exactly rank d once centred (n > d)."""
    rng = np.random.default_rng(seed)
    patterns = rng.standard_normal((d, int(np.prod(shape))))
    weights = rng.standard_normal((n, d))
    return (0.5 + 0.05 * weights @ patterns).reshape(n, *shape)


def test_pca_reconstruction_is_exact_for_data_of_rank_d():
    volumes = rank_d_volumes(12, 3)
    result = pca_reconstruction(volumes, 3)
    assert result.volumes.shape == volumes.shape and result.rank == 3
    assert np.allclose(result.volumes, volumes, atol=1e-10)
    assert result.explained_variance == pytest.approx(1.0)
    assert np.allclose(pca_reconstruction(volumes, 5).volumes, volumes, atol=1e-10)   # more components: same


def test_pca_rank_zero_gives_the_mean_and_rank_is_capped_at_n_minus_one():
    volumes = smooth_volumes(5).astype(np.float64)
    zero = pca_reconstruction(volumes, 0)
    assert zero.rank == 0 and zero.explained_variance == 0.0
    assert np.allclose(zero.volumes, np.broadcast_to(volumes.mean(0), volumes.shape))
    full = pca_reconstruction(volumes, 10)
    assert full.rank == 4 and np.allclose(full.volumes, volumes, atol=1e-10)
    assert pca_reconstruction(np.repeat(volumes[:1], 3, 0), 2).explained_variance == 1.0   # nothing varies


def test_pca_explained_variance_is_the_share_of_squared_singular_values():
    rng = np.random.default_rng(0)
    # two orthogonal directions with variances 9 : 1 around a mean, plus nothing else
    directions = np.linalg.qr(rng.standard_normal((40, 2)))[0].T
    scores = rng.standard_normal((30, 2))
    scores -= scores.mean(0)
    scores = scores @ np.linalg.inv(np.linalg.cholesky(np.cov(scores, rowvar=False)).T)   # whiten exactly
    volumes = (1.0 + (scores * [3.0, 1.0]) @ directions).reshape(30, 5, 8, 1)
    one = pca_reconstruction(volumes, 1)
    assert one.explained_variance == pytest.approx(0.9)
    residual = volumes - one.volumes
    assert np.sum(residual ** 2) == pytest.approx(0.1 * np.sum((volumes - volumes.mean(0)) ** 2))
    with pytest.raises(ValueError, match="rank"):
        pca_reconstruction(volumes, -1)


def test_pca_reference_is_less_varied_than_the_noisy_real_set():
    rng = np.random.default_rng(1)
    clean = rank_d_volumes(10, 2, shape=(16, 20, 16), seed=1)
    noisy = np.clip(clean + 0.1 * rng.standard_normal(clean.shape), 0, 1).astype(np.float32)
    real = set_diversity(noisy, 20, 0, **SMALL_MS_SSIM)
    reference = set_diversity(pca_reconstruction(noisy, 2).volumes.astype(np.float32), 20, 0, **SMALL_MS_SSIM)
    assert reference["ms_ssim_mean"] > real["ms_ssim_mean"] and reference["rms_mean"] < real["rms_mean"]


def test_reference_latent_size_from_params_or_model_json(tmp_path):
    assert reference_latent_size({"latent_size": 7, "models_dir": "nowhere"}, "AD") == 7
    path = tmp_path / "AD" / "model" / "model.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"config": {"network": {"latent_size": 12}}}))
    assert reference_latent_size({"latent_size": None, "models_dir": str(tmp_path)}, "AD") == 12
    with pytest.raises(FileNotFoundError, match="CN/model/model.json"):
        reference_latent_size({"latent_size": None, "models_dir": str(tmp_path)}, "CN")
    path.write_text(json.dumps({"config": {}}))
    with pytest.raises(ValueError, match="latent_size"):
        reference_latent_size({"latent_size": None, "models_dir": str(tmp_path)}, "AD")


# --- acceptance checks ----------------------------------------------------------------------------

CRITERIA = {"ms_ssim_margin": 0.02, "min_precision": 0.5, "min_recall": 0.3, "max_near_copies": 0}


def test_checks_pass_at_the_thresholds_and_fail_just_beyond():
    at = acceptance_checks(0.82, 0.80, 0.5, 0.3, 0, CRITERIA)
    assert at["ms_ssim_limit"] == pytest.approx(0.82)
    assert at["diversity_ok"] and at["fidelity_ok"] and at["memorisation_ok"] and at["passed"]
    assert acceptance_checks(0.8201, 0.80, 0.5, 0.3, 0, CRITERIA)["diversity_ok"] is False
    assert acceptance_checks(0.7, 0.80, 0.49, 0.9, 0, CRITERIA)["fidelity_ok"] is False
    assert acceptance_checks(0.7, 0.80, 0.9, 0.29, 0, CRITERIA)["fidelity_ok"] is False
    beyond = acceptance_checks(0.7, 0.80, 0.9, 0.9, 1, CRITERIA)
    assert beyond["memorisation_ok"] is False and beyond["diversity_ok"] is True and beyond["passed"] is False
    collapsed = acceptance_checks(1.0, 0.93, 0.65, 0.0, 0, CRITERIA)      # the demo's collapsed models
    assert (collapsed["diversity_ok"], collapsed["fidelity_ok"], collapsed["passed"]) == (False, False, False)


def test_checks_are_unknown_without_a_value_and_need_every_criterion():
    unknown = acceptance_checks(None, 0.8, float("nan"), 0.5, None, CRITERIA)
    assert unknown["diversity_ok"] is None and unknown["fidelity_ok"] is None and unknown["memorisation_ok"] is None
    assert unknown["passed"] is False and unknown["ms_ssim_limit"] == pytest.approx(0.82)
    assert acceptance_checks(0.9, None, 0.6, 0.5, 0, CRITERIA)["diversity_ok"] is None
    with pytest.raises(KeyError, match="min_recall"):
        acceptance_checks(0.9, 0.9, 0.6, 0.5, 0, {k: v for k, v in CRITERIA.items() if k != "min_recall"})


def test_montage_indices_are_seeded_distinct_and_capped():
    first = montage_indices(200, 4, seed=3)
    assert len(set(first.tolist())) == 4 and (np.diff(first) > 0).all() and first.max() < 200
    assert first.tolist() == montage_indices(200, 4, seed=3).tolist()
    assert montage_indices(3, 4, 0).tolist() == [0, 1, 2] and len(montage_indices(0, 4, 0)) == 0


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
        "reference": {"models_dir": str(root / "models"), "latent_size": 2},
        "criteria": dict(CRITERIA),
        "montage": {"volumes": 3, "views": ["coronal", "axial"]},
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
