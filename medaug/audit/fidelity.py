"""Fidelity: do synthetic volumes look like real ones to the AD-vs-CN classifier?

Features are the activations of the last hidden layer of the classifier trained on real volumes
(stage ``train_classifier``, training set ``real``), so the Frechet distance below is **not** an
ImageNet-Inception FID nor a MedicalNet FID: its scale depends on that small network and its
values are only comparable within one pipeline run (same classifiers).

- :func:`frechet_distance`: ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^{1/2})`` between
  Gaussians fitted to two feature sets.
- :func:`precision_recall`: the k-nearest-neighbour manifold estimate of Kynkaanniemi et al. (2019):
  precision = share of synthetic features inside the k-NN ball of some real feature,
  recall = share of real features inside the k-NN ball of some synthetic feature.
- GAN-train / GAN-test (Shmelkov et al. 2018, thesis table 1.2) are balanced accuracies computed
  by the stage with :func:`medaug.classify.predict`: GAN-train trains on synthetic and tests on the
  real test split; GAN-test trains on real and tests on synthetic volumes. GAN-test well above the
  real-on-real baseline hints at memorisation.
"""

from __future__ import annotations

import numpy as np
import torch

FEATURE_SPACE_NOTE = ("Features: last hidden layer of the AD-vs-CN classifier trained on real data "
                      "(not an ImageNet / MedicalNet FID; comparable only within this pipeline run).")


@torch.no_grad()
def penultimate_features(model: torch.nn.Module, images: torch.Tensor, batch_size: int = 32) -> np.ndarray:
    """Activations entering the last linear layer of a :class:`~medaug.classify.Conv5FC3`.

    Args:
        model: a classifier with ``features`` and ``classifier`` (a Sequential ending in Linear).
        images: (N, 1, D, H, W).
    Returns:
        (N, F) float64, F = the last hidden width (eval mode: dropout off).
    """
    model.eval()
    head = model.classifier[:-1]
    outputs = [head(model.features(images[i:i + batch_size].float())).double() for i in range(0, len(images), batch_size)]
    width = model.classifier[-1].in_features
    return torch.cat(outputs).numpy() if outputs else np.zeros((0, width))


def _gaussian(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"frechet_distance: need at least two feature vectors (N, F), got shape {features.shape}")
    return features.mean(0), np.atleast_2d(np.cov(features, rowvar=False))


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to feature sets ``a`` (N, F) and ``b`` (M, F).

    ``tr((S_a S_b)^{1/2})`` is computed as ``tr((S_a^{1/2} S_b S_a^{1/2})^{1/2})`` (symmetric,
    eigenvalues clipped at 0), which is exact for positive semi-definite covariances.
    """
    mu_a, cov_a = _gaussian(a)
    mu_b, cov_b = _gaussian(b)
    if mu_a.shape != mu_b.shape:
        raise ValueError(f"frechet_distance: feature widths differ ({mu_a.shape[0]} vs {mu_b.shape[0]})")
    root_a = _psd_sqrt(cov_a)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0.0, None)).sum()
    value = float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2.0 * cross)
    return max(value, 0.0)


def _knn_radii(features: np.ndarray, k: int) -> np.ndarray:
    distances = np.sqrt(np.clip(_squared_distances(features, features), 0.0, None))
    return np.sort(distances, axis=1)[:, k]  # column 0 is the point itself


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None, :] - 2.0 * a @ b.T


def precision_recall(real: np.ndarray, synthetic: np.ndarray, k: int) -> dict[str, float]:
    """k-NN precision and recall of ``synthetic`` (M, F) against ``real`` (N, F).

    Each set's manifold is the union of balls around its points with radius the distance to the
    point's k-th nearest neighbour in the same set. Requires more than ``k`` points in each set.
    """
    real, synthetic = np.asarray(real, dtype=np.float64), np.asarray(synthetic, dtype=np.float64)
    if min(len(real), len(synthetic)) <= k or k < 1:
        raise ValueError(f"precision_recall: need more than k={k} points per set, got {len(real)} real, "
                         f"{len(synthetic)} synthetic")
    cross = np.sqrt(np.clip(_squared_distances(synthetic, real), 0.0, None))  # (M, N)
    precision = (cross <= _knn_radii(real, k)[None, :]).any(axis=1).mean()
    recall = (cross <= _knn_radii(synthetic, k)[:, None]).any(axis=0).mean()
    return {"precision": float(precision), "recall": float(recall)}
