"""Riemannian metrics on the latent space, as pure tensor functions and buffer-holding modules.

Two metrics from the thesis (seed 004):

* RHVAE metric (ch. 1, eq. 1.7), defined through its inverse::

      G^-1(z) = sum_i M_i w_i(z) + lam I,   M_i = L_i L_i^T,   w_i(z) = exp(-|z - c_i|^2 / T^2)

  with centroids ``c_i`` (N, d) and lower-triangular ``L_i`` (N, d, d) with a positive diagonal.
  Closed forms used below (Jacobi's formula, d log det A = tr(A^-1 dA)):

      d/dz log det G^-1(z) = sum_i w_i(z) tr(G(z) M_i) (-2 / T^2) (z - c_i)
      d/dz log det G(z)    = (2 / T^2) sum_i w_i(z) tr(G(z) M_i) (z - c_i)

* Geometry-aware metric of a vanilla VAE (ch. 3, sec. 3.4), defined directly and diagonal::

      G(z) = sum_i diag(1 / var_i) w_i(z) + lam I,   w_i(z) = exp(-(z - mu_i)^T Sigma_i^-1 (z - mu_i) / rho^2)
      rho  = max_i min_{j != i} |mu_i - mu_j|

  With g(z) the diagonal of G(z) and P_i = 1 / var_i (element-wise):

      d/dz_k log det G(z) = sum_i w_i(z) (sum_j P_ij / g_j(z)) (-2 / rho^2) P_ik (z_k - mu_ik)

  (the factor 2 of the quadratic form's derivative is the one missing in the authors' code).

All functions are differentiable with respect to every tensor argument, work in float32 and float64,
and loop over the centroids in chunks so that memory stays bounded for thousands of centroids and
large batches. Log-determinants go through a Cholesky factor, never through ``det``.
"""

from __future__ import annotations

from typing import Iterator

import torch
from torch import Tensor, nn

__all__ = [
    "rhvae_kernel_weights",
    "rhvae_inverse_metric",
    "rhvae_metric",
    "rhvae_log_det_metric",
    "rhvae_grad_log_det_metric",
    "rhvae_log_det_and_grad_log_det_metric",
    "rhvae_grad_inverse_quadratic_form",
    "rhvae_inverse_metric_from_gram",
    "rhvae_log_det_and_grad_log_det_metric_from_gram",
    "rhvae_grad_inverse_quadratic_form_from_gram",
    "geometric_kernel_weights",
    "geometric_metric_diag",
    "geometric_log_det_metric",
    "geometric_grad_log_det_metric",
    "geometric_log_det_and_grad_log_det_metric",
    "max_min_distance",
    "RHVAEMetric",
    "GeometricMetric",
]

#: Largest number of (batch x centroid x latent) elements held at once by the chunked loops.
DEFAULT_CHUNK_ELEMENTS = 1 << 22


def _centroid_chunks(n_batch: int, n_centroids: int, width: int, chunk_elements: int) -> Iterator[slice]:
    """Slices over the centroid axis such that ``n_batch * chunk * width <= chunk_elements``."""
    step = max(1, chunk_elements // max(1, n_batch * width))
    for start in range(0, n_centroids, step):
        yield slice(start, min(start + step, n_centroids))


def _gram(cholesky: Tensor) -> Tensor:
    """M_i = L_i L_i^T: (N, d, d) -> (N, d, d)."""
    return cholesky @ cholesky.transpose(-1, -2)


def _squared_distances(z: Tensor, centroids: Tensor) -> Tensor:
    """|z_b - c_i|^2 by the expansion |z|^2 - 2 z.c + |c|^2 (clamped at 0): (B, d), (n, d) -> (B, n).

    The cancellation error is ~eps |z|^2, negligible against T^2 for the isotropic RHVAE kernel.
    """
    sq = (z * z).sum(-1, keepdim=True) - 2.0 * z @ centroids.T + (centroids * centroids).sum(-1)
    return sq.clamp_min(0.0)


def _identity_like(z: Tensor) -> Tensor:
    return torch.eye(z.shape[-1], dtype=z.dtype, device=z.device)


# --------------------------------------------------------------------------------------------------
# RHVAE metric (thesis ch. 1, eq. 1.7)
# --------------------------------------------------------------------------------------------------


def rhvae_kernel_weights(z: Tensor, centroids: Tensor, temperature: float | Tensor) -> Tensor:
    """w_i(z) = exp(-|z - c_i|^2 / T^2): z (B, d), centroids (N, d) -> (B, N)."""
    return torch.exp(-_squared_distances(z, centroids) / temperature**2)


def rhvae_inverse_metric_from_gram(
    z: Tensor,
    centroids: Tensor,
    gram: Tensor,
    temperature: float | Tensor,
    lam: float | Tensor,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> Tensor:
    """G^-1(z) from M_i = L_i L_i^T: z (B, d), centroids (N, d), gram (N, d, d) -> (B, d, d)."""
    n_batch, dim = z.shape
    inverse = (lam * _identity_like(z)).expand(n_batch, dim, dim)
    flat_gram = gram.reshape(gram.shape[0], dim * dim)
    for part in _centroid_chunks(n_batch, centroids.shape[0], dim * dim, chunk_elements):
        weights = rhvae_kernel_weights(z, centroids[part], temperature)
        inverse = inverse + (weights @ flat_gram[part]).reshape(n_batch, dim, dim)
    return inverse


def rhvae_inverse_metric(
    z: Tensor,
    centroids: Tensor,
    cholesky: Tensor,
    temperature: float | Tensor,
    lam: float | Tensor,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> Tensor:
    """G^-1(z) = sum_i L_i L_i^T w_i(z) + lam I.

    Args:
        z: latent points, (B, d).
        centroids: c_i, (N, d).
        cholesky: L_i, lower-triangular with a positive diagonal, (N, d, d).
        temperature: T of the kernel exp(-|z - c_i|^2 / T^2).
        lam: lambda, the regularisation that keeps G^-1 positive definite far from the data.
        chunk_elements: memory bound of the loop over centroids (elements per chunk).

    Returns:
        (B, d, d) symmetric positive-definite matrices.
    """
    return rhvae_inverse_metric_from_gram(z, centroids, _gram(cholesky), temperature, lam, chunk_elements)


def rhvae_metric(
    z: Tensor,
    centroids: Tensor,
    cholesky: Tensor,
    temperature: float | Tensor,
    lam: float | Tensor,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> Tensor:
    """G(z), the inverse of :func:`rhvae_inverse_metric` computed through its Cholesky factor: (B, d, d)."""
    inverse = rhvae_inverse_metric(z, centroids, cholesky, temperature, lam, chunk_elements)
    return torch.cholesky_inverse(torch.linalg.cholesky(inverse))


def rhvae_log_det_metric(
    z: Tensor,
    centroids: Tensor,
    cholesky: Tensor,
    temperature: float | Tensor,
    lam: float | Tensor,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> Tensor:
    """log det G(z) = -log det G^-1(z), from the Cholesky factor of G^-1: (B,)."""
    inverse = rhvae_inverse_metric(z, centroids, cholesky, temperature, lam, chunk_elements)
    factor = torch.linalg.cholesky(inverse)
    return -2.0 * torch.log(torch.diagonal(factor, dim1=-2, dim2=-1)).sum(-1)


def rhvae_log_det_and_grad_log_det_metric_from_gram(
    z: Tensor,
    centroids: Tensor,
    gram: Tensor,
    temperature: float | Tensor,
    lam: float | Tensor,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> tuple[Tensor, Tensor]:
    """(log det G(z) (B,), d/dz log det G(z) (B, d)) from M_i = L_i L_i^T (N, d, d)."""
    n_batch, dim = z.shape
    inverse = rhvae_inverse_metric_from_gram(z, centroids, gram, temperature, lam, chunk_elements)
    factor = torch.linalg.cholesky(inverse)
    log_det = -2.0 * torch.log(torch.diagonal(factor, dim1=-2, dim2=-1)).sum(-1)
    metric = torch.cholesky_inverse(factor).reshape(n_batch, dim * dim)
    flat_gram = gram.reshape(gram.shape[0], dim * dim)
    coef_sum = z.new_zeros(n_batch, 1)
    coef_centroids = torch.zeros_like(z)
    for part in _centroid_chunks(n_batch, centroids.shape[0], dim * dim, chunk_elements):
        weights = rhvae_kernel_weights(z, centroids[part], temperature)
        # tr(G M_i) = sum_jk G_jk M_i,jk for symmetric G and M_i
        coef = weights * (metric @ flat_gram[part].T)
        coef_sum = coef_sum + coef.sum(-1, keepdim=True)
        coef_centroids = coef_centroids + coef @ centroids[part]
    grad = (2.0 / temperature**2) * (z * coef_sum - coef_centroids)
    return log_det, grad


def rhvae_log_det_and_grad_log_det_metric(
    z: Tensor,
    centroids: Tensor,
    cholesky: Tensor,
    temperature: float | Tensor,
    lam: float | Tensor,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> tuple[Tensor, Tensor]:
    """log det G(z) (B,) and its closed-form gradient in z (B, d), sharing one Cholesky factorisation."""
    return rhvae_log_det_and_grad_log_det_metric_from_gram(z, centroids, _gram(cholesky), temperature, lam, chunk_elements)


def rhvae_grad_log_det_metric(
    z: Tensor,
    centroids: Tensor,
    cholesky: Tensor,
    temperature: float | Tensor,
    lam: float | Tensor,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> Tensor:
    """d/dz log det G(z) = (2 / T^2) sum_i w_i(z) tr(G(z) M_i) (z - c_i), closed form: (B, d)."""
    return rhvae_log_det_and_grad_log_det_metric(z, centroids, cholesky, temperature, lam, chunk_elements)[1]


def rhvae_grad_inverse_quadratic_form_from_gram(
    z: Tensor,
    momentum: Tensor,
    centroids: Tensor,
    gram: Tensor,
    temperature: float | Tensor,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> Tensor:
    """d/dz (q^T G^-1(z) q) = sum_i (q^T M_i q) w_i(z) (-2 / T^2) (z - c_i): z, q (B, d) -> (B, d).

    This is twice the position gradient of the geodesic Hamiltonian H(z, q) = 1/2 q^T G^-1(z) q
    (thesis ch. 2, alg. 2); lam I does not depend on z.
    """
    n_batch, dim = z.shape
    outer = (momentum[:, :, None] * momentum[:, None, :]).reshape(n_batch, dim * dim)
    flat_gram = gram.reshape(gram.shape[0], dim * dim)
    coef_sum = z.new_zeros(n_batch, 1)
    coef_centroids = torch.zeros_like(z)
    for part in _centroid_chunks(n_batch, centroids.shape[0], dim * dim, chunk_elements):
        coef = rhvae_kernel_weights(z, centroids[part], temperature) * (outer @ flat_gram[part].T)
        coef_sum = coef_sum + coef.sum(-1, keepdim=True)
        coef_centroids = coef_centroids + coef @ centroids[part]
    return (-2.0 / temperature**2) * (z * coef_sum - coef_centroids)


def rhvae_grad_inverse_quadratic_form(
    z: Tensor,
    momentum: Tensor,
    centroids: Tensor,
    cholesky: Tensor,
    temperature: float | Tensor,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> Tensor:
    """d/dz (q^T G^-1(z) q) for momenta q: z, q (B, d), centroids (N, d), cholesky (N, d, d) -> (B, d)."""
    return rhvae_grad_inverse_quadratic_form_from_gram(z, momentum, centroids, _gram(cholesky), temperature, chunk_elements)


# --------------------------------------------------------------------------------------------------
# Geometry-aware metric of a vanilla VAE (thesis ch. 3, sec. 3.4)
# --------------------------------------------------------------------------------------------------


def geometric_kernel_weights(z: Tensor, means: Tensor, variances: Tensor, rho: float | Tensor) -> Tensor:
    """w_i(z) = exp(-(z - mu_i)^T diag(1/var_i) (z - mu_i) / rho^2): (B, d), (k, d), (k, d) -> (B, k).

    Computed on explicit differences (not an expansion): small variances would amplify cancellation.
    """
    diff = z[:, None, :] - means[None]
    return torch.exp(-(diff * diff / variances).sum(-1) / rho**2)


def geometric_metric_diag(
    z: Tensor,
    means: Tensor,
    variances: Tensor,
    rho: float | Tensor,
    lam: float | Tensor,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> Tensor:
    """Diagonal of G(z) = sum_i diag(1 / var_i) w_i(z) + lam I.

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
    for part in _centroid_chunks(n_batch, means.shape[0], dim, chunk_elements):
        weights = geometric_kernel_weights(z, means[part], variances[part], rho)
        diag = diag + weights @ precisions[part]
    return diag


def geometric_log_det_metric(
    z: Tensor,
    means: Tensor,
    variances: Tensor,
    rho: float | Tensor,
    lam: float | Tensor,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> Tensor:
    """log det G(z) = sum_j log g_j(z) for the diagonal metric: (B,)."""
    return torch.log(geometric_metric_diag(z, means, variances, rho, lam, chunk_elements)).sum(-1)


def geometric_log_det_and_grad_log_det_metric(
    z: Tensor,
    means: Tensor,
    variances: Tensor,
    rho: float | Tensor,
    lam: float | Tensor,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> tuple[Tensor, Tensor]:
    """log det G(z) (B,) and its closed-form gradient in z (B, d)."""
    n_batch, dim = z.shape
    diag = geometric_metric_diag(z, means, variances, rho, lam, chunk_elements)
    log_det = torch.log(diag).sum(-1)
    precisions = 1.0 / variances
    inv_diag = 1.0 / diag
    grad = torch.zeros_like(z)
    for part in _centroid_chunks(n_batch, means.shape[0], dim, chunk_elements):
        diff = z[:, None, :] - means[part][None]
        scaled = diff * precisions[part][None]  # Sigma_i^-1 (z - mu_i), (B, n, d)
        weights = torch.exp(-(diff * scaled).sum(-1) / rho**2)
        # sum_j P_ij / g_j = tr(G^-1 dG/dw_i) for the diagonal metric
        coef = weights * (inv_diag @ precisions[part].T)
        grad = grad + torch.einsum("bn,bnd->bd", coef, scaled)
    return log_det, (-2.0 / rho**2) * grad


def geometric_grad_log_det_metric(
    z: Tensor,
    means: Tensor,
    variances: Tensor,
    rho: float | Tensor,
    lam: float | Tensor,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> Tensor:
    """d/dz log det G(z), closed form: (B, d)."""
    return geometric_log_det_and_grad_log_det_metric(z, means, variances, rho, lam, chunk_elements)[1]


def max_min_distance(points: Tensor, chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> Tensor:
    """rho = max_i min_{j != i} |p_i - p_j| (thesis ch. 3, sec. 3.4): points (k, d), k >= 2 -> scalar."""
    n_points = points.shape[0]
    if n_points < 2:
        raise ValueError(f"rho needs at least 2 points, got {n_points}; pass rho explicitly")
    nearest = []
    for part in _centroid_chunks(n_points, n_points, 1, chunk_elements):
        dist = torch.cdist(points[part], points)
        rows = torch.arange(part.start, part.stop, device=points.device)
        dist[rows - part.start, rows] = float("inf")
        nearest.append(dist.min(-1).values)
    return torch.cat(nearest).max()


# --------------------------------------------------------------------------------------------------
# Modules
# --------------------------------------------------------------------------------------------------


class _ResizableBuffers(nn.Module):
    """Lets ``load_state_dict`` accept buffers whose number of centroids differs from the current one."""

    _resizable: tuple[str, ...] = ()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        for name in self._resizable:
            incoming = state_dict.get(prefix + name)
            current = getattr(self, name)
            if incoming is not None and incoming.shape != current.shape:
                setattr(self, name, torch.empty(incoming.shape, dtype=current.dtype, device=current.device))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)


class RHVAEMetric(_ResizableBuffers):
    """The RHVAE metric G^-1(z) = sum_i L_i L_i^T exp(-|z - c_i|^2 / T^2) + lam I (thesis eq. 1.7).

    Buffers ``centroids`` (N, d) and ``cholesky`` (N, d, d) follow ``state_dict``, ``.to()`` and
    ``copy.deepcopy``; ``load_state_dict`` accepts a different N. ``temperature`` and ``lam`` are
    constructor hyper-parameters (store them in the model's JSON config).

    Args:
        centroids: c_i, (N, d); N may be 0 (then G^-1 = lam I).
        cholesky: L_i, lower-triangular with a positive diagonal, (N, d, d).
        temperature: T.
        lam: lambda.
        chunk_elements: memory bound of the loops over centroids.
    """

    _resizable = ("centroids", "cholesky")

    def __init__(
        self,
        centroids: Tensor,
        cholesky: Tensor,
        temperature: float = 1.5,
        lam: float = 1e-2,
        chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
    ) -> None:
        super().__init__()
        _check_rhvae_shapes(centroids, cholesky)
        if temperature <= 0 or lam <= 0:
            raise ValueError(f"temperature and lam must be positive, got {temperature}, {lam}")
        self.temperature = float(temperature)
        self.lam = float(lam)
        self.chunk_elements = int(chunk_elements)
        self.register_buffer("centroids", centroids.detach().clone())
        self.register_buffer("cholesky", cholesky.detach().clone())

    @classmethod
    def empty(cls, latent_dim: int, temperature: float = 1.5, lam: float = 1e-2, **kwargs) -> "RHVAEMetric":
        """A metric with no centroids (G = I / lam), e.g. before the first epoch or before loading."""
        return cls(torch.zeros(0, latent_dim), torch.zeros(0, latent_dim, latent_dim), temperature, lam, **kwargs)

    def set_centroids(self, centroids: Tensor, cholesky: Tensor) -> None:
        """Replace c_i (N, d) and L_i (N, d, d) (detached copies in the buffers' dtype and device)."""
        _check_rhvae_shapes(centroids, cholesky)
        if centroids.shape[1] != self.latent_dim:
            raise ValueError(f"latent dim {centroids.shape[1]} != {self.latent_dim}")
        like = self.centroids
        self.centroids = centroids.detach().to(dtype=like.dtype, device=like.device).clone()
        self.cholesky = cholesky.detach().to(dtype=like.dtype, device=like.device).clone()

    @property
    def latent_dim(self) -> int:
        return self.centroids.shape[1]

    @property
    def num_centroids(self) -> int:
        return self.centroids.shape[0]

    def gram(self) -> Tensor:
        """M_i = L_i L_i^T, (N, d, d)."""
        return _gram(self.cholesky)

    def inverse(self, z: Tensor) -> Tensor:
        """G^-1(z): (B, d) -> (B, d, d)."""
        return rhvae_inverse_metric(z, self.centroids, self.cholesky, self.temperature, self.lam, self.chunk_elements)

    def metric(self, z: Tensor) -> Tensor:
        """G(z): (B, d) -> (B, d, d)."""
        return rhvae_metric(z, self.centroids, self.cholesky, self.temperature, self.lam, self.chunk_elements)

    def forward(self, z: Tensor) -> Tensor:
        """Same as :meth:`metric`."""
        return self.metric(z)

    def log_det_metric(self, z: Tensor) -> Tensor:
        """log det G(z): (B, d) -> (B,)."""
        return rhvae_log_det_metric(z, self.centroids, self.cholesky, self.temperature, self.lam, self.chunk_elements)

    def grad_log_det_metric(self, z: Tensor) -> Tensor:
        """d/dz log det G(z), closed form: (B, d) -> (B, d)."""
        return self.log_det_and_grad_log_det_metric(z)[1]

    def log_det_and_grad_log_det_metric(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """(log det G(z) (B,), d/dz log det G(z) (B, d)) with one Cholesky factorisation."""
        return rhvae_log_det_and_grad_log_det_metric_from_gram(
            z, self.centroids, self.gram(), self.temperature, self.lam, self.chunk_elements
        )

    def grad_inverse_quadratic_form(self, z: Tensor, momentum: Tensor) -> Tensor:
        """d/dz (q^T G^-1(z) q): z, q (B, d) -> (B, d)."""
        return rhvae_grad_inverse_quadratic_form(z, momentum, self.centroids, self.cholesky, self.temperature, self.chunk_elements)

    def compact_radius(self, factor: float = 2.0) -> float:
        """Radius of the compact set {|z| <= factor * max_i |c_i|} of the thesis' samplers (ch. 1, 1.8.2)."""
        return factor * float(self.centroids.norm(dim=-1).max())

    def extra_repr(self) -> str:
        return f"num_centroids={self.num_centroids}, latent_dim={self.latent_dim}, temperature={self.temperature}, lam={self.lam}"


def _check_rhvae_shapes(centroids: Tensor, cholesky: Tensor) -> None:
    if centroids.ndim != 2 or cholesky.ndim != 3:
        raise ValueError(f"expected centroids (N, d) and cholesky (N, d, d), got {tuple(centroids.shape)}, {tuple(cholesky.shape)}")
    n, d = centroids.shape
    if cholesky.shape != (n, d, d):
        raise ValueError(f"cholesky must be {(n, d, d)}, got {tuple(cholesky.shape)}")


class GeometricMetric(_ResizableBuffers):
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

    def __init__(
        self,
        means: Tensor,
        variances: Tensor,
        rho: float,
        lam: float = 1e-2,
        chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
    ) -> None:
        super().__init__()
        if means.ndim != 2 or variances.shape != means.shape:
            raise ValueError(f"means and variances must both be (k, d), got {tuple(means.shape)}, {tuple(variances.shape)}")
        if rho <= 0 or lam <= 0:
            raise ValueError(f"rho and lam must be positive, got {rho}, {lam}")
        if bool((variances <= 0).any()):
            raise ValueError("variances must be positive (exponentiate the encoder's log-variance)")
        self.rho = float(rho)
        self.lam = float(lam)
        self.chunk_elements = int(chunk_elements)
        self.register_buffer("means", means.detach().clone())
        self.register_buffer("variances", variances.detach().clone())

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

    @property
    def latent_dim(self) -> int:
        return self.means.shape[1]

    @property
    def num_centroids(self) -> int:
        return self.means.shape[0]

    def metric_diag(self, z: Tensor) -> Tensor:
        """Diagonal of G(z): (B, d) -> (B, d)."""
        return geometric_metric_diag(z, self.means, self.variances, self.rho, self.lam, self.chunk_elements)

    def metric(self, z: Tensor) -> Tensor:
        """G(z) as dense matrices: (B, d) -> (B, d, d)."""
        return torch.diag_embed(self.metric_diag(z))

    def forward(self, z: Tensor) -> Tensor:
        """Same as :meth:`metric`."""
        return self.metric(z)

    def inverse(self, z: Tensor) -> Tensor:
        """G^-1(z): (B, d) -> (B, d, d)."""
        return torch.diag_embed(1.0 / self.metric_diag(z))

    def log_det_metric(self, z: Tensor) -> Tensor:
        """log det G(z): (B, d) -> (B,)."""
        return geometric_log_det_metric(z, self.means, self.variances, self.rho, self.lam, self.chunk_elements)

    def grad_log_det_metric(self, z: Tensor) -> Tensor:
        """d/dz log det G(z), closed form: (B, d) -> (B, d)."""
        return self.log_det_and_grad_log_det_metric(z)[1]

    def log_det_and_grad_log_det_metric(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """(log det G(z) (B,), d/dz log det G(z) (B, d))."""
        return geometric_log_det_and_grad_log_det_metric(
            z, self.means, self.variances, self.rho, self.lam, self.chunk_elements
        )

    def compact_radius(self, factor: float = 2.0) -> float:
        """Radius of {|z| <= factor * max_i |mu_i|}, the support used by the samplers."""
        return factor * float(self.means.norm(dim=-1).max())

    def extra_repr(self) -> str:
        return f"num_centroids={self.num_centroids}, latent_dim={self.latent_dim}, rho={self.rho:.4g}, lam={self.lam}"
