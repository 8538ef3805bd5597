"""Baseline latent samplers of the thesis' comparisons: the prior N(0, I) and an ex-post Gaussian mixture.

The mixture is fitted with scikit-learn (EM, full covariances; 10 components, capped by the number of
points, as in the thesis' comparison of samplers) and then held as torch buffers, so sampling is seeded by a
``torch.Generator`` and the fitted state saves like any module (``state_dict`` / safetensors).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from medaug.sampling.chains import standard_normal

__all__ = ["PriorSampler", "GaussianMixtureSampler"]


class PriorSampler(nn.Module):
    """z ~ N(0, I_d).

    Args:
        latent_dim: d.
    """

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.register_buffer("_anchor", torch.zeros(0), persistent=False)  # carries dtype and device

    def fit(self, latents: Tensor | None = None) -> "PriorSampler":
        """Nothing to fit; present for a uniform interface."""
        return self

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws, (n, d)."""
        return standard_normal((n, self.latent_dim), self._anchor, generator)


class GaussianMixtureSampler(nn.Module):
    """A Gaussian mixture fitted on training latent means, sampled with torch.

    Buffers after :meth:`fit`: ``weights`` (K,), ``means`` (K, d), ``scale_tril`` (K, d, d) (Cholesky
    factors of the covariances).

    Args:
        n_components: K (capped by the number of training points at fit time).
        covariance_type: scikit-learn's ``covariance_type``.
        max_iter: EM iterations.
        reg_covar: added to covariance diagonals (scikit-learn's default is 1e-6).
        random_state: seed of the EM initialisation.
    """

    def __init__(
        self,
        n_components: int = 10,
        covariance_type: str = "full",
        max_iter: int = 100,
        reg_covar: float = 1e-6,
        random_state: int = 0,
    ) -> None:
        super().__init__()
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.max_iter = max_iter
        self.reg_covar = reg_covar
        self.random_state = random_state
        self.register_buffer("weights", torch.zeros(0))
        self.register_buffer("means", torch.zeros(0, 0))
        self.register_buffer("scale_tril", torch.zeros(0, 0, 0))

    def fit(self, latents: Tensor) -> "GaussianMixtureSampler":
        """Fit on latent means (n, d) (detached, in float64); returns self."""
        from sklearn.mixture import GaussianMixture

        if latents.ndim != 2 or latents.shape[0] < 1:
            raise ValueError(f"expected latent means (n, d) with n >= 1, got {tuple(latents.shape)}")
        data = latents.detach().cpu().double().numpy()
        n_components = min(self.n_components, data.shape[0])
        mixture = GaussianMixture(
            n_components=n_components,
            covariance_type=self.covariance_type,
            max_iter=self.max_iter,
            reg_covar=self.reg_covar,
            random_state=self.random_state,
        ).fit(data)
        covariances = _full_covariances(mixture, data.shape[1])
        like = dict(dtype=latents.dtype, device=latents.device)
        self.weights = torch.as_tensor(mixture.weights_, **like)
        self.means = torch.as_tensor(mixture.means_, **like)
        self.scale_tril = torch.linalg.cholesky(torch.as_tensor(covariances, dtype=torch.float64)).to(**like)
        return self

    @property
    def is_fitted(self) -> bool:
        return self.weights.numel() > 0

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws from the mixture, (n, d)."""
        if not self.is_fitted:
            raise RuntimeError("GaussianMixtureSampler.sample called before fit")
        device = generator.device if generator is not None else torch.device("cpu")
        component = torch.multinomial(self.weights.to(device), n, replacement=True, generator=generator)
        component = component.to(self.means.device)
        noise = standard_normal((n, self.means.shape[1]), self.means, generator)
        return self.means[component] + (self.scale_tril[component] @ noise[:, :, None])[:, :, 0]

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        for name in ("weights", "means", "scale_tril"):
            incoming = state_dict.get(prefix + name)
            if incoming is not None:
                setattr(self, name, torch.empty_like(incoming, dtype=getattr(self, name).dtype))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)


def _full_covariances(mixture, dim: int) -> np.ndarray:
    """scikit-learn's covariances_ as (K, d, d) whatever the covariance_type."""
    cov = mixture.covariances_
    k = mixture.n_components
    kind = mixture.covariance_type
    if kind == "full":
        return cov
    if kind == "tied":
        return np.broadcast_to(cov, (k, dim, dim)).copy()
    if kind == "diag":
        return np.stack([np.diag(c) for c in cov])
    if kind == "spherical":
        return np.stack([np.eye(dim) * c for c in cov])
    raise ValueError(f"unknown covariance_type {kind!r}")
