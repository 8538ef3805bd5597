"""medaug.audit.fidelity: Frechet distance, precision / recall and the classifier features."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import linalg

from medaug.audit import frechet_distance, penultimate_features, precision_recall
from medaug.classify import build_classifier
from tests._classify_fixtures import SHAPE


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


def test_equal_size_draws_split_the_real_set_and_subsample_each_group():
    from medaug.audit import equal_size_draws

    m, draws = equal_size_draws(9, {"a": 200, "b": 6}, 3, seed=[1, 2])
    assert m == 4 and len(draws) == 3
    for draw in draws:
        assert len(draw["reference"]) == len(draw["real"]) == len(draw["a"]) == len(draw["b"]) == 4
        assert not set(draw["reference"]) & set(draw["real"]) and draw["a"].max() < 200 and draw["b"].max() < 6
    again = equal_size_draws(9, {"a": 200, "b": 6}, 3, seed=[1, 2])[1]
    assert all((x["a"] == y["a"]).all() for x, y in zip(draws, again))
    with pytest.raises(ValueError, match="reserved"):
        equal_size_draws(9, {"real": 10}, 3, 0)
    with pytest.raises(ValueError, match="draws"):
        equal_size_draws(9, {"a": 10}, 0, 0)


def test_equal_size_precision_recall_matches_real_vs_real_for_a_same_distribution_set():
    from medaug.audit import equal_size_draws, equal_size_precision_recall

    rng = np.random.default_rng(0)
    real, same = rng.standard_normal((40, 4)), rng.standard_normal((200, 4))
    m, draws = equal_size_draws(40, {"same": 200}, 20, seed=0)
    scores = equal_size_precision_recall(real, {"same": same}, 3, draws)
    assert m == 20 and scores["real"]["n"] == 20 and scores["same"]["draws"] == 20
    assert abs(scores["same"]["precision"] - scores["real"]["precision"]) < 0.1
    assert abs(scores["same"]["recall"] - scores["real"]["recall"]) < 0.1
    small = equal_size_precision_recall(real[:6], {"same": same}, 3, equal_size_draws(6, {"same": 200}, 2, 0)[1])
    assert small["same"]["precision"] is None and small["real"]["recall"] is None   # halves of 3 <= k
