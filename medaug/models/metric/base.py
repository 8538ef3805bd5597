"""What both latent metrics share: the chunked loop over centroids, small linear-algebra helpers and
:class:`KernelMetric`, the base class of the metric modules (N kernel centres held in buffers)."""

from __future__ import annotations

from typing import Iterator

import torch
from torch import Tensor, nn

__all__ = ["DEFAULT_CHUNK_ELEMENTS", "KernelMetric", "centroid_chunks", "identity_like", "log_det_from_factor"]

#: Largest number of (batch x centroid x latent) elements held at once by the chunked loops.
DEFAULT_CHUNK_ELEMENTS = 1 << 22


def centroid_chunks(n_batch: int, n_centroids: int, width: int, chunk_elements: int) -> Iterator[slice]:
    """Slices over the centroid axis such that ``n_batch * chunk * width <= chunk_elements``."""
    step = max(1, chunk_elements // max(1, n_batch * width))
    for start in range(0, n_centroids, step):
        yield slice(start, min(start + step, n_centroids))


def identity_like(z: Tensor) -> Tensor:
    return torch.eye(z.shape[-1], dtype=z.dtype, device=z.device)


def log_det_from_factor(factor: Tensor) -> Tensor:
    """log det A = 2 sum log diag(C) for A = C C^T: (B, d, d) -> (B,)."""
    return 2.0 * torch.log(torch.diagonal(factor, dim1=-2, dim2=-1)).sum(-1)


class KernelMetric(nn.Module):
    """What both latent metrics share: N kernel centres in buffers, and the metric's interface.

    Subclasses name their per-centre buffers in ``_resizable`` (the centres first);
    ``load_state_dict`` accepts a number of centres different from the current one, and
    :meth:`_refresh` recomputes derived (non-persistent) buffers after a load. Buffers follow
    ``state_dict``, ``.to()`` and ``copy.deepcopy``; the scalar hyper-parameters are attributes
    (store them in the model's JSON config).
    """

    _resizable: tuple[str, ...] = ()

    @property
    def centres(self) -> Tensor:
        """The kernel centres c_i (RHVAE) or mu_i (geometric), (N, d)."""
        return getattr(self, self._resizable[0])

    def _refresh(self) -> None:
        """Recompute the buffers derived from the persistent ones (none by default)."""

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        for name in self._resizable:
            incoming = state_dict.get(prefix + name)
            current = getattr(self, name)
            if incoming is not None and incoming.shape != current.shape:
                setattr(self, name, torch.empty(incoming.shape, dtype=current.dtype, device=current.device))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)
        self._refresh()

    @property
    def latent_dim(self) -> int:
        return self.centres.shape[1]

    @property
    def num_centroids(self) -> int:
        return self.centres.shape[0]

    def metric(self, z: Tensor) -> Tensor:
        """G(z): (B, d) -> (B, d, d)."""
        raise NotImplementedError

    def inverse(self, z: Tensor) -> Tensor:
        """G^-1(z): (B, d) -> (B, d, d)."""
        raise NotImplementedError

    def log_det_and_grad_log_det_metric(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """(log det G(z) (B,), d/dz log det G(z) (B, d)), closed form."""
        raise NotImplementedError

    def forward(self, z: Tensor) -> Tensor:
        """Same as :meth:`metric`."""
        return self.metric(z)

    def grad_log_det_metric(self, z: Tensor) -> Tensor:
        """d/dz log det G(z), closed form: (B, d) -> (B, d)."""
        return self.log_det_and_grad_log_det_metric(z)[1]

    def compact_radius(self, factor: float = 2.0) -> float:
        """Radius of the compact set {|z| <= factor * max_i |c_i|} on which the samplers' targets are
        proper (thesis ch. 1, app. 1.8.2)."""
        return factor * float(self.centres.norm(dim=-1).max())

    def _hyper_repr(self) -> str:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"num_centroids={self.num_centroids}, latent_dim={self.latent_dim}, {self._hyper_repr()}"
