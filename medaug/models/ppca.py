"""Maximum-likelihood probabilistic PCA with a fixed noise level.

Probabilistic PCA (Tipping and Bishop, "Probabilistic principal component analysis", JRSS-B
1999, sec. 3.2) is the linear-Gaussian latent model z ~ N(0, I_d), x | z ~ N(m + W z, s^2 I_D).
With the sample covariance S = (1/N) sum_n (x_n - m)(x_n - m)^T, eigenvalues lambda_1 >= ... and
unit eigenvectors u_i, the likelihood is maximised by m = the sample mean and

    W = U_d (Lambda_d - s^2 I)^{1/2}          (columns with lambda_i <= s^2 are zero),

and the posterior is exact and Gaussian:

    z | x ~ N(M^{-1} W^T (x - m), s^2 M^{-1}),   M = W^T W + s^2 I = diag(max(lambda_i, s^2)).

Here s is given (it is the VAE's ``observation_std``), not estimated. The fit is the starting
point of a VAE's linear path (:class:`medaug.models.vae.VAE`): a VAE initialised with it starts
from a model whose bound is already exact, and whose decoded codes vary as much as the rank-d
PCA reconstructions of its training set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "PPCAFit",
    "fit_ppca",
    "fit_shared_ppca",
    "held_out_latent_sizes",
    "posterior_means",
    "ppca_log_likelihood",
    "truncated",
    "with_noise_std",
]


@dataclass(frozen=True)
class PPCAFit:
    """The maximum-likelihood PPCA of a data set at a fixed noise sd s.

    Attributes:
        mean: m, (D,).
        components: U_d, (d, D), orthonormal rows (zero rows where N - 1 < d).
        eigenvalues: lambda_1..lambda_d of S, (d,), non-increasing (zero past the data's rank).
        noise_std: s.
    """

    mean: Tensor
    components: Tensor
    eigenvalues: Tensor
    noise_std: float

    @property
    def decoder_weight(self) -> Tensor:
        """W^T = (Lambda_d - s^2)^{1/2}_+ U_d^T, (d, D): row i is the decoded change per unit of z_i."""
        scale = (self.eigenvalues - self.noise_std**2).clamp_min(0.0).sqrt()
        return scale[:, None] * self.components

    @property
    def posterior_variance(self) -> Tensor:
        """Diagonal of s^2 M^{-1}, (d,): s^2 / max(lambda_i, s^2), in (0, 1]."""
        return self.noise_std**2 / self.eigenvalues.clamp_min(self.noise_std**2)

    @property
    def encoder_weight(self) -> Tensor:
        """M^{-1} W^T, (d, D): the posterior mean is ``encoder_weight @ (x - m)``."""
        return self.decoder_weight / self.eigenvalues.clamp_min(self.noise_std**2)[:, None]


def fit_ppca(data: Tensor, latent_size: int, noise_std: float, chunk_size: int = 1 << 20) -> PPCAFit:
    """Fit PPCA with d = ``latent_size`` components and noise sd ``noise_std`` to ``data``.

    Args:
        data: (N, ...) with N >= 1; each item is flattened to D values.
        latent_size: d >= 1.
        noise_std: s > 0, in the data's units.
        chunk_size: voxels per block when forming the Gram matrix, to bound float64 memory.
    Returns:
        :class:`PPCAFit` in ``data``'s dtype and device.

    The eigenvectors come from the N x N Gram matrix G = X_c X_c^T / N (float64): if G a = lambda a
    with |a| = 1, then u = X_c^T a / sqrt(N lambda) is the matching unit eigenvector of S. Cost:
    O(N^2 D) in two passes over the data (the Gram matrix, then every component at once), memory
    O(N D) in data's dtype plus one float64 block, so it scales to full-resolution
    volumes where a D x D covariance could not be formed.
    """
    if data.ndim < 2 or data.shape[0] == 0:
        raise ValueError(f"fit_ppca: expected a non-empty (N, ...) stack, got shape {tuple(data.shape)}")
    if int(latent_size) < 1:
        raise ValueError(f"fit_ppca: latent_size must be >= 1, got {latent_size}")
    if not noise_std > 0:
        raise ValueError(f"fit_ppca: noise_std must be positive, got {noise_std}")
    if not bool(torch.isfinite(data).all()):
        raise ValueError("fit_ppca: the data contain NaN or Inf values")
    n = data.shape[0]
    flat = data.detach().reshape(n, -1)
    mean = flat.double().mean(0)
    gram = torch.zeros(n, n, dtype=torch.float64, device=flat.device)
    for start in range(0, flat.shape[1], chunk_size):
        block = flat[:, start : start + chunk_size].double() - mean[start : start + chunk_size]
        gram += block @ block.T
    gram /= n
    eigenvalues, vectors = torch.linalg.eigh(gram)
    eigenvalues, vectors = eigenvalues.flip(0), vectors.flip(1)
    kept = min(int(latent_size), n)
    # Eigenvalues at round-off level belong to the null space of the centred data (rank <= N - 1).
    tolerance = max(float(eigenvalues[0]), 0.0) * n * 1e-12
    kept = int((eigenvalues[:kept] > tolerance).sum())
    values = torch.zeros(int(latent_size), dtype=torch.float64, device=flat.device)
    values[:kept] = eigenvalues[:kept]
    # u_i = X_c^T a_i / sqrt(N lambda_i), all kept components in one pass over the data
    scaled = vectors[:, :kept] / (n * values[:kept]).sqrt()  # (N, kept)
    components = torch.zeros(int(latent_size), flat.shape[1], dtype=flat.dtype, device=flat.device)
    for start in range(0, flat.shape[1], chunk_size):
        block = flat[:, start : start + chunk_size].double() - mean[start : start + chunk_size]
        components[:kept, start : start + chunk_size] = (block.T @ scaled).T.to(flat.dtype)
    return PPCAFit(mean.to(flat.dtype), components, values.to(flat.dtype), float(noise_std))


def fit_shared_ppca(own: Tensor, others: Sequence[Tensor], latent_size: int, noise_std: float) -> PPCAFit:
    """PPCA of ``own`` whose components are shared with other groups: the pooled within-group fit.

    Each group (``own`` (N, ...) and every item of ``others``, (N_k, ...)) is centred on its own
    mean; the components and eigenvalues are those of the pooled within-group covariance
    S_w = (1/N) sum_k sum_n (x_kn - m_k)(x_kn - m_k)^T (N items in all); the mean is ``own``'s.
    This is the linear-Gaussian model x | z, k ~ N(m_k + W z, s^2 I) with one W for every group,
    the maximum-likelihood fit of a class-conditional linear model (Tipping and Bishop 1999,
    sec. 3.2, applied to the within-group scatter). Its rank is at most N - K for K groups, so
    with K = 2 diagnosis labels it has about twice the components a single label's fit has, each
    estimated from twice the volumes. With ``others`` empty it equals :func:`fit_ppca` of ``own``.
    """
    if own.ndim < 2 or own.shape[0] == 0:
        raise ValueError(f"fit_shared_ppca: expected a non-empty (N, ...) stack, got shape {tuple(own.shape)}")
    groups = [own, *others]
    for k, group in enumerate(groups[1:], 1):
        if group.shape[1:] != own.shape[1:] or group.shape[0] == 0:
            raise ValueError(f"fit_shared_ppca: group {k} has shape {tuple(group.shape)}; expected (N >= 1, "
                             f"{', '.join(map(str, own.shape[1:]))})")
    centred = torch.cat([g.detach() - g.detach().double().mean(0).to(g.dtype) for g in groups])
    fit = fit_ppca(centred, latent_size, noise_std)
    return PPCAFit(own.detach().reshape(own.shape[0], -1).double().mean(0).to(fit.mean.dtype),
                   fit.components, fit.eigenvalues, fit.noise_std)


def with_noise_std(fit: PPCAFit, noise_std: float) -> PPCAFit:
    """The same components and eigenvalues at another noise sd s: the ML fit at s (only W's scale depends on s)."""
    if not noise_std > 0:
        raise ValueError(f"noise_std must be positive, got {noise_std}")
    return PPCAFit(fit.mean, fit.components, fit.eigenvalues, float(noise_std))


def truncated(fit: PPCAFit, latent_size: int) -> PPCAFit:
    """The fit restricted to its first ``latent_size`` components (the ML fit at that size)."""
    if not 1 <= latent_size <= fit.eigenvalues.shape[0]:
        raise ValueError(f"latent_size must be in [1, {fit.eigenvalues.shape[0]}], got {latent_size}")
    return PPCAFit(fit.mean, fit.components[:latent_size], fit.eigenvalues[:latent_size], fit.noise_std)


def ppca_log_likelihood(fit: PPCAFit, data: Tensor) -> Tensor:
    """Exact log-density of each item under the fitted model: (M, ...) -> (M,), nats, float64.

    The marginal is x ~ N(m, C) with C = W W^T + s^2 I (Tipping and Bishop 1999, eq. 4), whose
    eigenvalues are max(lambda_i, s^2) along u_i (i <= d) and s^2 elsewhere, so with r = x - m

        log p(x) = -1/2 [D log 2 pi + sum_i log max(lambda_i, s^2) + (D - d) log s^2
                         + |r|^2 / s^2 - sum_i (1/s^2 - 1/max(lambda_i, s^2)) (u_i . r)^2].
    """
    flat = data.detach().reshape(data.shape[0], -1).double()
    if flat.shape[1] != fit.mean.shape[0]:
        raise ValueError(f"ppca_log_likelihood: items have {flat.shape[1]} values, the fit {fit.mean.shape[0]}")
    residual = flat - fit.mean.double()
    noise = fit.noise_std**2
    variances = fit.eigenvalues.double().clamp_min(noise)
    projections = residual @ fit.components.double().T  # (M, d)
    quadratic = residual.pow(2).sum(1) / noise - (projections.pow(2) * (1.0 / noise - 1.0 / variances)).sum(1)
    n_values, d = flat.shape[1], fit.eigenvalues.shape[0]
    log_det = variances.log().sum() + (n_values - d) * math.log(noise)
    return -0.5 * (n_values * math.log(2.0 * math.pi) + log_det + quadratic)


def held_out_latent_sizes(train: Tensor, held_out: Tensor, candidates: Sequence[int], noise_std: float) -> dict[int, float]:
    """Mean held-out PPCA log-likelihood (nats per item) for each latent size in ``candidates``.

    One fit at the largest size; smaller sizes are its leading components (the ML fit at each
    size, the noise sd ``noise_std`` fixed, as in the VAE). The size with the highest value is
    the d-dimensional linear model that generalises best: a principled latent size for a VAE
    whose linear path starts at this PPCA.
    """
    sizes = sorted({int(c) for c in candidates})
    if not sizes or sizes[0] < 1:
        raise ValueError(f"latent size candidates must be >= 1, got {list(candidates)}")
    if held_out.shape[0] == 0:
        raise ValueError("held_out_latent_sizes: no held-out items")
    fit = fit_ppca(train, sizes[-1], noise_std)
    return {d: float(ppca_log_likelihood(truncated(fit, d), held_out).mean()) for d in sizes}


def posterior_means(fit: PPCAFit, data: Tensor) -> Tensor:
    """E[z | x] = M^{-1} W^T (x - m) for each item: (N, ...) -> (N, d), in the fit's dtype."""
    flat = data.detach().reshape(data.shape[0], -1).to(fit.mean.dtype)
    return (flat - fit.mean) @ fit.encoder_weight.T
