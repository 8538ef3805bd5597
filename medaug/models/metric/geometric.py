"""Geometry-aware metric of a vanilla VAE (thesis ch. 3, sec. 3.4), defined directly and diagonal::

    G(z) = sum_i diag(1 / var_i) w_i(z) + lam I,   w_i(z) = exp(-(z - mu_i)^T Sigma_i^-1 (z - mu_i) / rho^2)
    rho  = max_i min_{j != i} |mu_i - mu_j|

With g(z) the diagonal of G(z) and P_i = 1 / var_i (element-wise):

    d/dz_k log det G(z) = sum_i w_i(z) (sum_j P_ij / g_j(z)) (-2 / rho^2) P_ik (z_k - mu_ik)

(the factor 2 of the quadratic form's derivative is the one missing in the authors' code).
"""

from __future__ import annotations

import torch
from torch import Tensor

from medaug.models.metric.base import DEFAULT_CHUNK_ELEMENTS, KernelMetric, Scalar, centroid_chunks


def geometric_kernel_weights(z: Tensor, means: Tensor, variances: Tensor, rho: Scalar) -> Tensor:
    """w_i(z) = exp(-(z - mu_i)^T diag(1/var_i) (z - mu_i) / rho^2): (B, d), (k, d), (k, d) -> (B, k).

    Computed on explicit differences (not an expansion): small variances would amplify cancellation.
    """
    diff = z[:, None, :] - means[None]
    return torch.exp(-(diff * diff / variances).sum(-1) / rho**2)


def geometric_metric_diag(z: Tensor, means: Tensor, variances: Tensor, rho: Scalar, lam: Scalar,
                          chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> Tensor:
    """Diagonal g(z) of G(z) = sum_i diag(1 / var_i) w_i(z) + lam I; log det G(z) = sum_j log g_j(z).

    :func:`geometric_log_det_and_grad_log_det_metric` takes the same arguments.

    Args:
        z: latent points, (B, d).
        means: posterior means mu_i, (k, d).
        variances: diagonal posterior variances var_i (positive), (k, d).
        rho: kernel bandwidth (see :func:`max_min_distance`).
        lam: lambda, added to every diagonal entry.
        chunk_elements: memory bound of the loop over centroids.

    Returns:
        (B, d), every entry >= lam.
    """
    n_batch, dim = z.shape
    diag = torch.zeros_like(z) + lam
    precisions = 1.0 / variances
    for part in centroid_chunks(n_batch, means.shape[0], dim, chunk_elements):
        weights = geometric_kernel_weights(z, means[part], variances[part], rho)
        diag = diag + weights @ precisions[part]
    return diag


def geometric_log_det_and_grad_log_det_metric(
        z: Tensor, means: Tensor, variances: Tensor, rho: Scalar, lam: Scalar,
        chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> tuple[Tensor, Tensor]:
    """log det G(z) (B,) and its closed-form gradient in z (B, d)."""
    n_batch, dim = z.shape
    diag = geometric_metric_diag(z, means, variances, rho, lam, chunk_elements)
    log_det = torch.log(diag).sum(-1)
    precisions = 1.0 / variances
    inv_diag = 1.0 / diag
    grad = torch.zeros_like(z)
    for part in centroid_chunks(n_batch, means.shape[0], dim, chunk_elements):
        diff = z[:, None, :] - means[part][None]
        scaled = diff * precisions[part][None]  # Sigma_i^-1 (z - mu_i), (B, n, d)
        weights = torch.exp(-(diff * scaled).sum(-1) / rho**2)
        # sum_j P_ij / g_j = tr(G^-1 dG/dw_i) for the diagonal metric
        coef = weights * (inv_diag @ precisions[part].T)
        grad = grad + torch.einsum("bn,bnd->bd", coef, scaled)
    return log_det, (-2.0 / rho**2) * grad


def max_min_distance(points: Tensor, chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> Tensor:
    """rho = max_i min_{j != i} |p_i - p_j| (thesis ch. 3, sec. 3.4): points (k, d), k >= 2 -> scalar."""
    n_points = points.shape[0]
    if n_points < 2:
        raise ValueError(f"rho needs at least 2 points, got {n_points}; pass rho explicitly")
    nearest = []
    for part in centroid_chunks(n_points, n_points, 1, chunk_elements):
        dist = torch.cdist(points[part], points)
        rows = torch.arange(part.start, part.stop, device=points.device)
        dist[rows - part.start, rows] = float("inf")
        nearest.append(dist.min(-1).values)
    return torch.cat(nearest).max()


class GeometricMetric(KernelMetric):
    """Diagonal metric G(z) = sum_i diag(1 / var_i) w_i(z) + lam I of a vanilla VAE (thesis ch. 3).

    w_i(z) = exp(-(z - mu_i)^T Sigma_i^-1 (z - mu_i) / rho^2). The thesis' extra factor exp(-tau |z|^2)
    on lam is left out (tau ~ 0 in the thesis). Buffers ``means`` (k, d) and ``variances`` (k, d).

    Args:
        means: posterior means mu_i, (k, d).
        variances: diagonal posterior variances (positive), (k, d).
        rho: bandwidth; :meth:`from_posteriors` computes max_i min_j |mu_i - mu_j|.
        lam: lambda.
        chunk_elements: memory bound of the loops over centroids.
    """

    _resizable = ("means", "variances")

    def __init__(self, means: Tensor, variances: Tensor, rho: float, lam: float = 1e-2,
                 chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> None:
        if means.ndim != 2 or variances.shape != means.shape:
            raise ValueError(f"means and variances must both be (k, d), got {tuple(means.shape)}, {tuple(variances.shape)}")
        if bool((variances <= 0).any()):
            raise ValueError("variances must be positive (exponentiate the encoder's log-variance)")
        super().__init__((means, variances), chunk_elements, rho=rho, lam=lam)

    @classmethod
    def from_posteriors(
        cls,
        means: Tensor,
        variances: Tensor,
        lam: float = 1e-2,
        rho: float | None = None,
        chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
    ) -> "GeometricMetric":
        """Build the metric from posterior means (k, d) and variances (k, d); rho from the means if None."""
        if rho is None:
            rho = float(max_min_distance(means.detach(), chunk_elements))
        return cls(means, variances, rho, lam, chunk_elements)

    def metric_diag(self, z: Tensor) -> Tensor:
        """Diagonal of G(z): (B, d) -> (B, d)."""
        return geometric_metric_diag(z, self.means, self.variances, self.rho, self.lam, self.chunk_elements)

    def metric(self, z: Tensor) -> Tensor:
        return torch.diag_embed(self.metric_diag(z))

    def inverse(self, z: Tensor) -> Tensor:
        return torch.diag_embed(1.0 / self.metric_diag(z))

    def log_det_metric(self, z: Tensor) -> Tensor:
        return torch.log(self.metric_diag(z)).sum(-1)

    def log_det_and_grad_log_det_metric(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return geometric_log_det_and_grad_log_det_metric(
            z, self.means, self.variances, self.rho, self.lam, self.chunk_elements
        )
