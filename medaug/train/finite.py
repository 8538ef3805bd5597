"""The trainer's guard against NaN and Inf: one device sync per check, the first bad term named."""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["NonFiniteError", "all_finite", "check_gradients", "check_terms"]


class NonFiniteError(RuntimeError):
    """A NaN or Inf appeared in training; the message names the epoch, the batch and the term."""

    def __init__(self, epoch: int, batch: int, term: str) -> None:
        super().__init__(f"non-finite value in {term} at epoch {epoch}, batch {batch}")
        self.epoch, self.batch, self.term = epoch, batch, term


def all_finite(tensors: list[Tensor]) -> bool:
    """Whether every value of every tensor is finite, with one device sync.

    The infinity norm of a tensor is NaN or Inf exactly when one of its values is.
    """
    tensors = [t for t in tensors if t.numel() > 0]
    if not tensors:
        return True
    return bool(torch.isfinite(torch.stack(torch._foreach_norm(tensors, math.inf))).all())


def check_terms(output, epoch: int, batch: int) -> None:
    """Raise :class:`NonFiniteError` naming the first non-finite ELBO term of ``output`` or its loss."""
    values = {**{f"ELBO term {name!r}": value for name, value in output.terms.items()}, "loss": output.loss}
    if all_finite([v.detach().reshape(-1) for v in values.values()]):
        return
    for name, value in values.items():
        if not bool(torch.isfinite(value).all()):
            raise NonFiniteError(epoch, batch, name)


def check_gradients(model: torch.nn.Module, epoch: int, batch: int) -> None:
    """Raise :class:`NonFiniteError` naming the first parameter with a non-finite gradient."""
    named = [(name, p.grad) for name, p in model.named_parameters() if p.grad is not None]
    if all_finite([grad for _, grad in named]):
        return
    for name, grad in named:
        if not bool(torch.isfinite(grad).all()):
            raise NonFiniteError(epoch, batch, f"gradient of {name}")
