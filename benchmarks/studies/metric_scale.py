"""Scale of a trained RHVAE's metric against the spread of its latent codes.

    python -m benchmarks.studies.metric_scale data/models/AD/model [data/models/CN/model ...]

The RHVAE metric G^-1(z) = sum_i L_i L_i^T exp(-|z - c_i|^2 / T^2) + lambda I (thesis eq. 1.7) is
only informative when its kernel width T and the size of L_i match the spacing of the centroids
c_i: if every code lies within T of every other, the sum saturates and the metric is nearly
constant; if L_i is huge, a unit velocity moves z farther than the gap between subjects. Prints,
per model: the largest and median diagonal entry of L, the eigenvalues of G^-1 at the centroids
(median and max), T, the median nearest-neighbour distance between centroids, the median
pairwise distance, and the mean number of centroids within one T of a centroid.
"""

from __future__ import annotations

import argparse
import json

import torch

from medaug.models.checkpoint import load_model


def metric_scale(model_dir: str) -> dict[str, float]:
    model = load_model(model_dir)
    metric = model.metric
    centroids, cholesky = metric.centroids.double(), metric.cholesky.double()
    diagonal = torch.diagonal(cholesky, dim1=-2, dim2=-1)
    inverse = metric.inverse(metric.centroids).double()
    eigenvalues = torch.linalg.eigvalsh(inverse)
    distances = torch.cdist(centroids, centroids)
    off_diagonal = distances[~torch.eye(len(centroids), dtype=torch.bool)]
    nearest = distances.masked_fill(torch.eye(len(centroids), dtype=torch.bool), float("inf")).min(1).values
    temperature = float(metric.temperature)
    return {
        "model": model_dir,
        "n_centroids": len(centroids),
        "L_diagonal_max": float(diagonal.max()),
        "L_diagonal_median": float(diagonal.median()),
        "G_inverse_eigenvalue_median": float(eigenvalues.median()),
        "G_inverse_eigenvalue_max": float(eigenvalues.max()),
        "temperature": temperature,
        "centroid_nearest_distance_median": float(nearest.median()),
        "centroid_pairwise_distance_median": float(off_diagonal.median()),
        "centroids_within_T_mean": float((distances < temperature).sum(1).double().mean() - 1),
        "centroid_norm_mean": float(centroids.norm(dim=1).mean()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dirs", nargs="+", help="model folders (model.json + safetensors), e.g. data/models/AD/model")
    args = parser.parse_args(argv)
    for directory in args.model_dirs:
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in metric_scale(directory).items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
