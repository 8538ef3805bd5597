"""RHVAE metric (thesis ch. 1, eq. 1.7), defined through its inverse::

    G^-1(z) = sum_i M_i w_i(z) + lam I,   M_i = L_i L_i^T,   w_i(z) = exp(-|z - c_i|^2 / T^2)

with centroids ``c_i`` (N, d) and lower-triangular ``L_i`` (N, d, d) with a positive diagonal.
Closed forms (Jacobi's formula, d log det A = tr(A^-1 dA)):

    d/dz log det G(z)        = (2 / T^2) sum_i w_i(z) tr(G(z) M_i) (z - c_i)
    d/dz (q^T G^-1(z) q)     = (-2 / T^2) sum_i w_i(z) (q^T M_i q) (z - c_i)

(lam I does not depend on z, so lam is absent from both gradients except through G(z)).

The math lives in private kernels that take the matrices M_i. The public ``rhvae_*`` functions
take the factors L_i (differentiably: the RHVAE's training flow passes the batch's own centroids
and L_psi(x_i)); :class:`RHVAEMetric` keeps M_i in a non-persistent buffer and calls the same
kernels on it.
"""

from __future__ import annotations

import torch
from torch import Tensor

from medaug.models.metric.base import (
    DEFAULT_CHUNK_ELEMENTS,
    KernelMetric,
    Scalar,
    centroid_chunks,
    identity_like,
    log_det_from_factor,
)


def _check_shapes(centroids: Tensor, cholesky: Tensor) -> None:
    """Raise ValueError unless centroids are (N, d) and cholesky (N, d, d)."""
    shape = tuple(centroids.shape)
    if len(shape) != 2 or tuple(cholesky.shape) != (*shape, shape[1]):
        raise ValueError(f"expected centroids (N, d) and cholesky (N, d, d), got {shape}, {tuple(cholesky.shape)}")


def _checked_gram(centroids: Tensor, cholesky: Tensor) -> Tensor:
    """M_i = L_i L_i^T (N, d, d), after checking that centroids are (N, d) and cholesky (N, d, d)."""
    _check_shapes(centroids, cholesky)
    return cholesky @ cholesky.transpose(-1, -2)


def _squared_distances(z: Tensor, centroids: Tensor) -> Tensor:
    """|z_b - c_i|^2 by the expansion |z|^2 - 2 z.c + |c|^2 (clamped at 0): (B, d), (n, d) -> (B, n).

    The cancellation error is ~eps |z|^2, negligible against T^2 for the isotropic RHVAE kernel.
    """
    sq = (z * z).sum(-1, keepdim=True) - 2.0 * z @ centroids.T + (centroids * centroids).sum(-1)
    return sq.clamp_min(0.0)


def rhvae_kernel_weights(z: Tensor, centroids: Tensor, temperature: Scalar) -> Tensor:
    """w_i(z) = exp(-|z - c_i|^2 / T^2): z (B, d), centroids (N, d) -> (B, N)."""
    return torch.exp(-_squared_distances(z, centroids) / temperature**2)


# ----------------------------------------------------------------- kernels on M_i (N, d, d)


def _inverse_metric(z: Tensor, centroids: Tensor, gram: Tensor, temperature, lam, chunk_elements: int) -> Tensor:
    """G^-1(z) from M_i (N, d, d): z (B, d) -> (B, d, d)."""
    n_batch, dim = z.shape
    inverse = (lam * identity_like(z)).expand(n_batch, dim, dim)
    flat_gram = gram.reshape(gram.shape[0], dim * dim)
    # the matmul never holds a (B, chunk, d*d) tensor: only the (B, chunk) weights count against the bound
    for part in centroid_chunks(n_batch, centroids.shape[0], 1, chunk_elements):
        weights = rhvae_kernel_weights(z, centroids[part], temperature)
        inverse = inverse + (weights @ flat_gram[part]).reshape(n_batch, dim, dim)
    return inverse


def _metric_from_inverse(inverse: Tensor) -> Tensor:
    """G = (G^-1)^-1 through the Cholesky factor of G^-1: (B, d, d) -> (B, d, d)."""
    return torch.cholesky_inverse(torch.linalg.cholesky(inverse))


def _log_det_from_inverse(inverse: Tensor) -> Tensor:
    """log det G = -log det G^-1, from the Cholesky factor of G^-1: (B, d, d) -> (B,)."""
    return -log_det_from_factor(torch.linalg.cholesky(inverse))


def _weighted_centroid_gradient(z: Tensor, centroids: Tensor, gram: Tensor, rows: Tensor, temperature,
                                chunk_elements: int) -> Tensor:
    """sum_i w_i(z) <R_b, M_i> (z - c_i) for per-point d x d matrices R_b: -> (B, d).

    ``rows`` (B, d*d) holds the flattened R_b, ``gram`` (N, d, d) the M_i. Both closed forms
    reduce to this sum: tr(G M_i) (R = G) and q^T M_i q (R = q q^T), for symmetric M_i.
    """
    n_batch, dim = z.shape
    flat_gram = gram.reshape(gram.shape[0], dim * dim)
    coef_sum = z.new_zeros(n_batch, 1)
    coef_centroids = torch.zeros_like(z)
    for part in centroid_chunks(n_batch, centroids.shape[0], 1, chunk_elements):  # (B, chunk) at a time
        coef = rhvae_kernel_weights(z, centroids[part], temperature) * (rows @ flat_gram[part].T)
        coef_sum = coef_sum + coef.sum(-1, keepdim=True)
        coef_centroids = coef_centroids + coef @ centroids[part]
    return z * coef_sum - coef_centroids


def _log_det_and_grad(z: Tensor, centroids: Tensor, gram: Tensor, temperature, lam,
                      chunk_elements: int) -> tuple[Tensor, Tensor]:
    """(log det G(z) (B,), d/dz log det G(z) (B, d)) from M_i (N, d, d), one Cholesky factorisation."""
    n_batch, dim = z.shape
    factor = torch.linalg.cholesky(_inverse_metric(z, centroids, gram, temperature, lam, chunk_elements))
    metric = torch.cholesky_inverse(factor).reshape(n_batch, dim * dim)  # tr(G M_i) = <G, M_i>
    weighted = _weighted_centroid_gradient(z, centroids, gram, metric, temperature, chunk_elements)
    return -log_det_from_factor(factor), (2.0 / temperature**2) * weighted


def _grad_inverse_quadratic_form(z: Tensor, momentum: Tensor, centroids: Tensor, gram: Tensor, temperature,
                                 chunk_elements: int) -> Tensor:
    """d/dz (q^T G^-1(z) q) = (-2 / T^2) sum_i w_i(z) (q^T M_i q) (z - c_i): z, q (B, d) -> (B, d)."""
    n_batch, dim = z.shape
    outer = (momentum[:, :, None] * momentum[:, None, :]).reshape(n_batch, dim * dim)  # q^T M_i q = <q q^T, M_i>
    weighted = _weighted_centroid_gradient(z, centroids, gram, outer, temperature, chunk_elements)
    return (-2.0 / temperature**2) * weighted


# ------------------------------------------------------------ public functions, on L_i (N, d, d)


def rhvae_inverse_metric(z: Tensor, centroids: Tensor, cholesky: Tensor, temperature: Scalar, lam: Scalar,
                         chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> Tensor:
    """G^-1(z) = sum_i L_i L_i^T w_i(z) + lam I.

    The ``rhvae_*`` functions below take the same arguments (and
    :func:`rhvae_grad_inverse_quadratic_form` no ``lam``); each is differentiable in all of them.

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
    return _inverse_metric(z, centroids, _checked_gram(centroids, cholesky), temperature, lam, chunk_elements)


def rhvae_metric(z: Tensor, centroids: Tensor, cholesky: Tensor, temperature: Scalar, lam: Scalar,
                 chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> Tensor:
    """G(z), the inverse of :func:`rhvae_inverse_metric` computed through its Cholesky factor: (B, d, d)."""
    return _metric_from_inverse(rhvae_inverse_metric(z, centroids, cholesky, temperature, lam, chunk_elements))


def rhvae_log_det_metric(z: Tensor, centroids: Tensor, cholesky: Tensor, temperature: Scalar, lam: Scalar,
                         chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> Tensor:
    """log det G(z) = -log det G^-1(z), from the Cholesky factor of G^-1: (B,)."""
    return _log_det_from_inverse(rhvae_inverse_metric(z, centroids, cholesky, temperature, lam, chunk_elements))


def rhvae_log_det_and_grad_log_det_metric(
        z: Tensor, centroids: Tensor, cholesky: Tensor, temperature: Scalar, lam: Scalar,
        chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> tuple[Tensor, Tensor]:
    """log det G(z) (B,) and its closed-form gradient in z (B, d), sharing one Cholesky factorisation."""
    gram = _checked_gram(centroids, cholesky)
    return _log_det_and_grad(z, centroids, gram, temperature, lam, chunk_elements)


def rhvae_grad_log_det_metric(z: Tensor, centroids: Tensor, cholesky: Tensor, temperature: Scalar, lam: Scalar,
                              chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> Tensor:
    """d/dz log det G(z) = (2 / T^2) sum_i w_i(z) tr(G(z) M_i) (z - c_i), closed form: (B, d)."""
    return rhvae_log_det_and_grad_log_det_metric(z, centroids, cholesky, temperature, lam, chunk_elements)[1]


def rhvae_grad_inverse_quadratic_form(z: Tensor, momentum: Tensor, centroids: Tensor, cholesky: Tensor,
                                      temperature: Scalar, chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> Tensor:
    """d/dz (q^T G^-1(z) q) = (-2 / T^2) sum_i w_i(z) |L_i^T q|^2 (z - c_i): z, q (B, d) -> (B, d).

    The position force of the velocity term 1/2 v^T G^-1(z) v in the RHVAE's generalised leapfrog
    (thesis ch. 1, eq. 1.5; Girolami & Calderhead 2011, eq. 16-18). lam does not enter: lam |q|^2
    does not depend on z.
    """
    gram = _checked_gram(centroids, cholesky)
    return _grad_inverse_quadratic_form(z, momentum, centroids, gram, temperature, chunk_elements)


class RHVAEMetric(KernelMetric):
    """The RHVAE metric G^-1(z) = sum_i L_i L_i^T exp(-|z - c_i|^2 / T^2) + lam I (thesis eq. 1.7).

    Buffers ``centroids`` (N, d) and ``cholesky`` (N, d, d) are saved; ``gram`` (N, d, d), the
    matrices M_i = L_i L_i^T, is not: it is recomputed by :meth:`set_centroids` and after
    ``load_state_dict``. Replace the centroids through :meth:`set_centroids`, not in place.

    Args:
        centroids: c_i, (N, d); N may be 0 (then G^-1 = lam I).
        cholesky: L_i, lower-triangular with a positive diagonal, (N, d, d).
        temperature: T.
        lam: lambda.
        chunk_elements: memory bound of the loops over centroids.
    """

    _resizable = ("centroids", "cholesky")

    def __init__(self, centroids: Tensor, cholesky: Tensor, temperature: float = 1.5, lam: float = 1e-2,
                 chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> None:
        _check_shapes(centroids, cholesky)
        super().__init__((centroids, cholesky), chunk_elements, temperature=temperature, lam=lam)
        self.register_buffer("gram", _checked_gram(self.centroids, self.cholesky), persistent=False)

    @classmethod
    def empty(cls, latent_dim: int, temperature: float = 1.5, lam: float = 1e-2, **kwargs) -> "RHVAEMetric":
        """A metric with no centroids (G = I / lam), e.g. before the first epoch or before loading."""
        return cls(torch.zeros(0, latent_dim), torch.zeros(0, latent_dim, latent_dim), temperature, lam, **kwargs)

    def set_centroids(self, centroids: Tensor, cholesky: Tensor) -> None:
        """Replace c_i (N, d) and L_i (N, d, d) (detached copies in the buffers' dtype and device)."""
        _check_shapes(centroids, cholesky)
        if centroids.shape[1] != self.latent_dim:
            raise ValueError(f"latent dim {centroids.shape[1]} != {self.latent_dim}")
        like = self.centroids
        self.centroids = centroids.detach().to(dtype=like.dtype, device=like.device).clone()
        self.cholesky = cholesky.detach().to(dtype=like.dtype, device=like.device).clone()
        self._refresh()

    def _refresh(self) -> None:
        self.gram = _checked_gram(self.centroids, self.cholesky)

    def inverse(self, z: Tensor) -> Tensor:
        return _inverse_metric(z, self.centroids, self.gram, self.temperature, self.lam, self.chunk_elements)

    def metric(self, z: Tensor) -> Tensor:
        return _metric_from_inverse(self.inverse(z))

    def log_det_metric(self, z: Tensor) -> Tensor:
        """log det G(z) = -log det G^-1(z): (B, d) -> (B,)."""
        return _log_det_from_inverse(self.inverse(z))

    def log_det_and_grad_log_det_metric(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return _log_det_and_grad(z, self.centroids, self.gram, self.temperature, self.lam, self.chunk_elements)

    def grad_inverse_quadratic_form(self, z: Tensor, momentum: Tensor) -> Tensor:
        """d/dz (q^T G^-1(z) q), as :func:`rhvae_grad_inverse_quadratic_form`: z, q (B, d) -> (B, d).

        Twice the position gradient of the geodesic Hamiltonian H(z, q) = 1/2 q^T G^-1(z) q
        (thesis ch. 2, alg. 2).
        """
        return _grad_inverse_quadratic_form(z, momentum, self.centroids, self.gram, self.temperature,
                                            self.chunk_elements)
