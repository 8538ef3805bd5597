"""What both latent metrics share: the chunked loop over centroids, small linear-algebra helpers and
:class:`KernelMetric`, the base class of the metric modules (N kernel centres held in buffers)."""

from __future__ import annotations

from typing import Iterator

import torch
from torch import Tensor, nn

__all__ = [
    "DEFAULT_CHUNK_ELEMENTS",
    "KernelMetric",
    "Scalar",
    "centroid_chunks",
    "identity_like",
    "log_det_from_factor",
]

#: Largest number of (batch x centroid x latent) elements held at once by the chunked loops.
DEFAULT_CHUNK_ELEMENTS = 1 << 22

#: A scalar hyper-parameter of the pure functions (T, rho, lambda): a float, or a 0-d tensor to
#: differentiate through it.
Scalar = float | Tensor


def centroid_chunks(n_batch: int, n_centroids: int, width: int, chunk_elements: int) -> Iterator[slice]:
    """Slices over the centroid axis such that ``n_batch * chunk * width <= chunk_elements``."""
    step = max(1, chunk_elements // max(1, n_batch * width))
    for start in range(0, n_centroids, step):
        yield slice(start, min(start + step, n_centroids))


def identity_like(z: Tensor) -> Tensor:
    """I_d in ``z``'s dtype and device, for z (B, d): (d, d)."""
    return torch.eye(z.shape[-1], dtype=z.dtype, device=z.device)


def log_det_from_factor(factor: Tensor) -> Tensor:
    """log det A = 2 sum log diag(C) for A = C C^T: (B, d, d) -> (B,)."""
    return 2.0 * torch.log(torch.diagonal(factor, dim1=-2, dim2=-1)).sum(-1)


class KernelMetric(nn.Module):
    """What both latent metrics share: N kernel centres in buffers, and the metric's interface.

    Subclasses name their per-centre buffers in ``_resizable`` (the centres first) and pass them,
    in that order, to ``KernelMetric.__init__`` together with their positive scalar
    hyper-parameters (``lam`` and the kernel's bandwidth), which become float attributes (store
    them in the model's JSON config). ``load_state_dict`` accepts a number of centres different
    from the current one, and :meth:`_refresh` recomputes derived (non-persistent) buffers after a
    load. Buffers follow ``state_dict``, ``.to()`` and ``copy.deepcopy``.

    Args:
        tensors: the per-centre tensors named by ``_resizable``, each with N leading rows; stored
            as detached copies.
        chunk_elements: memory bound of the loops over centroids (elements per chunk).
        **hyper: the positive scalar hyper-parameters, in the order :meth:`extra_repr` shows them.
    """

    _resizable: tuple[str, ...] = ()

    def __init__(self, tensors: tuple[Tensor, ...], chunk_elements: int, **hyper: float) -> None:
        super().__init__()
        for name, value in hyper.items():
            if not value > 0:
                raise ValueError(f"{type(self).__name__}: {name} must be positive, got {value}")
            setattr(self, name, float(value))
        self._hyper = tuple(hyper)
        self.chunk_elements = int(chunk_elements)
        for name, tensor in zip(self._resizable, tensors, strict=True):
            self.register_buffer(name, tensor.detach().clone())

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

    def log_det_metric(self, z: Tensor) -> Tensor:
        """log det G(z): (B, d) -> (B,)."""
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

    def extra_repr(self) -> str:
        hyper = ", ".join(f"{name}={getattr(self, name):.4g}" for name in self._hyper)
        return f"num_centroids={self.num_centroids}, latent_dim={self.latent_dim}, {hyper}"
