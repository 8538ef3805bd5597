"""Fidelity: do synthetic volumes look like real ones to the AD-vs-CN classifier?

Features are the activations of the last hidden layer of the classifier trained on real volumes
(stage ``train_classifier``, training set ``real``), so the Frechet distance below is **not** an
ImageNet-Inception FID nor a MedicalNet FID: its scale depends on that small network and its
values are only comparable within one pipeline run (same classifiers).

- :func:`frechet_distance`: ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^{1/2})`` between
  Gaussians fitted to two feature sets.
- :func:`precision_recall`: the k-nearest-neighbour manifold estimate of Kynkaanniemi et al. (2019,
  "Improved precision and recall metric for assessing generative models"):
  precision = share of synthetic features inside the k-NN ball of some real feature,
  recall = share of real features inside the k-NN ball of some synthetic feature.
- :func:`equal_size_precision_recall`: the same at equal set sizes, averaged over seeded draws,
  with a real-vs-real baseline. The k-NN balls of a set shrink as it grows, so with 200 synthetic
  against 38 real features precision is inflated (a collapsed set sits inside the large real
  balls) and recall is not comparable to anything. Each draw splits the held-out real features
  into two halves of m: one half is the reference manifold, the other half is scored against it
  as a real candidate ("real-vs-real": what a generator indistinguishable from new patients
  scores), and m synthetic features drawn without replacement are scored against the same half.
  Real-vs-real uses held-out halves rather than the training volumes because the classifier was
  trained on the latter, which moves their features.
- GAN-train / GAN-test (Shmelkov et al. 2018, thesis table 1.2) are balanced accuracies computed
  by the stage with :func:`medaug.classify.predict`: GAN-train trains on synthetic and tests on the
  real test split; GAN-test trains on real and tests on synthetic volumes. GAN-test well above the
  real-on-real baseline hints at memorisation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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


def equal_size_draws(n_real: int, group_sizes: Mapping[str, int], draws: int, seed: int | Sequence[int]
                     ) -> tuple[int, list[dict[str, np.ndarray]]]:
    """Index draws for :func:`equal_size_precision_recall`.

    Args:
        n_real: number of held-out real features; group_sizes: candidate group -> its number of features.
        draws: number of draws (>= 1); seed: of ``numpy.random.default_rng`` (an int or a sequence of ints).
    Returns:
        (m, draws) where m = min(n_real // 2, smallest group) and each draw is ``{"reference": (m,),
        "real": (m,), <group>: (m,)}`` integer indices: two disjoint halves of the real set and a
        subsample of each group, all without replacement. The same draws serve every classifier run.
    """
    if int(draws) < 1:
        raise ValueError(f"equal_size_draws: draws must be >= 1, got {draws}")
    clash = sorted({"reference", "real"} & set(group_sizes))
    if clash:
        raise ValueError(f"equal_size_draws: group names {clash} are reserved for the real halves")
    m = min([int(n_real) // 2, *(int(n) for n in group_sizes.values())])
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(int(draws)):
        order = rng.permutation(int(n_real))
        draw = {"reference": np.sort(order[:m]), "real": np.sort(order[m:2 * m])}
        for group, n in group_sizes.items():
            draw[group] = np.sort(rng.choice(int(n), size=m, replace=False))
        out.append(draw)
    return m, out


def equal_size_precision_recall(real: np.ndarray, groups: Mapping[str, np.ndarray], k: int,
                                draws: Sequence[Mapping[str, np.ndarray]], real_group: str = "real"
                                ) -> dict[str, dict[str, float | int | None]]:
    """k-NN precision / recall (:func:`precision_recall`) at equal set sizes, mean and sd over draws.

    Args:
        real: (N, F) held-out real features; groups: name -> (M_g, F) candidate features.
        k: neighbours of the k-NN radii; draws: from :func:`equal_size_draws` over the same sets.
        real_group: the key under which the real-vs-real baseline is returned.
    Returns:
        ``{real_group: ..., <group>: ...}``, each ``{precision, recall, precision_sd, recall_sd,
        n, draws}``: n = m features per set (reference, candidate). Precision and recall are None
        when m <= k (too few held-out volumes for k-NN radii at that size).
    """
    if real_group in groups:
        raise ValueError(f"equal_size_precision_recall: a candidate group is named {real_group!r}")
    if not draws:
        raise ValueError("equal_size_precision_recall: no draw")
    real = np.asarray(real, dtype=np.float64)
    m = len(draws[0]["reference"])
    candidates = {real_group: (real, "real"), **{g: (np.asarray(f, dtype=np.float64), g) for g, f in groups.items()}}
    out = {}
    for name, (features, key) in candidates.items():
        if m <= int(k):
            out[name] = {"precision": None, "recall": None, "precision_sd": None, "recall_sd": None,
                         "n": int(m), "draws": len(draws)}
            continue
        results = [precision_recall(real[d["reference"]], features[d[key]], k) for d in draws]
        scores = np.array([[r["precision"], r["recall"]] for r in results])
        sd = scores.std(axis=0, ddof=1) if len(draws) > 1 else np.full(2, np.nan)
        out[name] = {"precision": float(scores[:, 0].mean()), "recall": float(scores[:, 1].mean()),
                     "precision_sd": float(sd[0]), "recall_sd": float(sd[1]), "n": int(m), "draws": len(draws)}
    return out
