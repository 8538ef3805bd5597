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
