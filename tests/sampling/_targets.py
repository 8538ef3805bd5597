"""Shared by the sampler tests: 2D metrics with known densities, the binned target mass, the
goodness-of-fit measures and deliberately broken sampler variants.

Statistical tests compare the last states of many independent chains (independent samples) with the
target normalised on a fine grid inside the compact set. Seeds are fixed, so each test is
deterministic; the p-value threshold 1e-3 would reject a correct sampler once in a thousand seeds,
and every broken variant gives p < 1e-10 at the same budget.

Note on "broken" HMC variants: HMC with a Metropolis step on the correct Hamiltonian stays exact for
ANY position-dependent force (leapfrog remains volume-preserving and reversible), so a wrong gradient
shows up as a chain that has not mixed within the budget, not as a biased limit. The budget of the
tests (20 steps from the centroids) is enough for the exact gradient (acceptance ~0.95) and far too
short for a flipped one (acceptance ~0.2).
"""

import numpy as np
import torch
from scipy import stats

from medaug.models.metric import GeometricMetric, RHVAEMetric

F64 = torch.float64
CENTROIDS = torch.tensor([[-1.0, 0.0], [1.0, 0.5], [0.2, -1.0]], dtype=F64)
N_BINS = 10
P_THRESHOLD = 1e-3


def rhvae_metric(conformal: bool = False) -> RHVAEMetric:
    if conformal:  # M_i = a_i^2 I: G is a scalar times I
        cholesky = torch.stack([torch.eye(2, dtype=F64) * a for a in (1.0, 0.7, 1.3)])
    else:
        cholesky = torch.tensor([[[1.0, 0], [0.3, 0.6]], [[0.8, 0], [-0.4, 1.0]], [[1.2, 0], [0, 0.5]]], dtype=F64)
    return RHVAEMetric(CENTROIDS, cholesky, temperature=0.8, lam=1e-2)


def geometric_metric() -> GeometricMetric:
    variances = torch.tensor([[0.1, 0.2], [0.3, 0.1], [0.15, 0.15]], dtype=F64)
    return GeometricMetric.from_posteriors(CENTROIDS, variances, lam=1e-2)


def grid_bin_probabilities(log_density, radius: float, edges: np.ndarray, n_grid: int = 400) -> np.ndarray:
    """Target mass per 2D bin: the density on an n_grid^2 midpoint grid, restricted to |z| <= radius."""
    x = (torch.arange(n_grid, dtype=F64) + 0.5) / n_grid * 2 * radius - radius
    grid = torch.stack(torch.meshgrid(x, x, indexing="ij"), -1).reshape(-1, 2)
    log_p = log_density(grid)
    inside = grid.norm(dim=1) <= radius
    weight = torch.where(inside, torch.exp(log_p - log_p[inside].max()), torch.zeros_like(log_p))
    weight = (weight / weight.sum()).numpy()
    return np.histogram2d(grid[:, 0].numpy(), grid[:, 1].numpy(), bins=[edges, edges], weights=weight)[0]


def chi_square_p_value(samples: torch.Tensor, probabilities: np.ndarray, edges: np.ndarray) -> float:
    """Binned chi-square test; bins expecting fewer than 5 samples are pooled into one."""
    counts = np.histogram2d(samples[:, 0].numpy(), samples[:, 1].numpy(), bins=[edges, edges])[0].ravel()
    expected = probabilities.ravel() * counts.sum()
    large = expected >= 5
    observed = np.append(counts[large], counts[~large].sum())
    expected = np.append(expected[large], expected[~large].sum())
    statistic = ((observed - expected) ** 2 / expected).sum()
    return float(stats.chi2.sf(statistic, len(expected) - 1))


def total_variation(samples: torch.Tensor, probabilities: np.ndarray, edges: np.ndarray) -> float:
    counts = np.histogram2d(samples[:, 0].numpy(), samples[:, 1].numpy(), bins=[edges, edges])[0]
    return 0.5 * float(np.abs(counts / counts.sum() - probabilities).sum())


def flipped_gradient(sampler_class):
    class Flipped(sampler_class):
        def log_prob_and_grad(self, z):
            log_p, grad = super().log_prob_and_grad(z)
            return log_p, -grad

    return Flipped


def inverted_target(sampler_class):
    """The chapter-1 / chapter-3 sign convention confused: sqrt det G instead of sqrt det G^-1."""

    class Inverted(sampler_class):
        def log_prob_and_grad(self, z):
            log_p, grad = super().log_prob_and_grad(z)
            return -log_p, -grad

    return Inverted


def run_chains(sampler_class, metric, seed=0, n=2000, **kwargs):
    return sampler_class(metric, **kwargs).run(n, torch.Generator().manual_seed(seed))
