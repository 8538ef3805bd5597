"""In-memory copy of the last completed epoch (model, optimiser, counters) and of the best epoch's weights.

The trainer captures it after every epoch. It is what a non-finite epoch restarts from, what is
written to disk when training stops on an exception between two timed checkpoints, and where the
weights of the best epoch so far are kept.

Cost. Capturing copies every tensor into buffers allocated at the first capture, with one
``torch._foreach_copy_`` call (no allocation, no ``deepcopy``): one read and one write of the
model and of Adam's two moments, less memory traffic than one Adam step. The model has two buffer
sets: when the captured epoch is the best so far, its set is kept as the best weights and the next
capture writes into the other one, so keeping the best epoch costs no extra copy. Memory held: two
copies of the model (parameters and buffers) and one of the optimiser state, on their device;
that is what the former per-epoch deep copy plus the best-weights clone held too.

The sources (the model's ``state_dict(keep_vars=True)`` tensors and the optimiser's state tensors)
are looked up at every capture, so a tensor a module or the optimiser replaced is read where it
now is; when their names, shapes, dtypes or devices differ from the previous capture's (the first
capture, Adam's first step, a metric refitted with another number of centroids), the buffers are
reallocated.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

__all__ = ["EpochSnapshot"]


def _layout(tensors: list[Tensor]) -> list[tuple]:
    """Shape, dtype and device of each tensor: what the buffers must match to be copied into."""
    return [(t.shape, t.dtype, t.device) for t in tensors]


class EpochSnapshot:
    """Model ``state_dict``, optimiser state and trainer counters after one epoch, and the best weights.

    Attributes:
        epoch: the epoch captured (0: before the first one; -1: nothing valid captured).
        counters: the trainer's counters at that epoch (``history`` left out; see
            :meth:`trainer_counters`).
        history_length: rows of the history at capture time.
    """

    def __init__(self) -> None:
        self.epoch = -1
        self.counters: dict[str, Any] = {}
        self.history_length = 0
        self._names: list[str] = []
        self._sets: list[dict[str, Tensor] | None] = [None, None]  # two model buffer sets, name -> tensor
        self._lists: list[list[Tensor]] = [[], []]  # the same tensors, in source order
        self._current = 0  # the set holding the last capture
        self._best: dict[str, Tensor] | None = None  # one of the sets, or a dict given to set_best
        self._layout: list[tuple] = []
        self._optimizer_keys: list[tuple[int, str]] = []
        self._optimizer_buffers: list[Tensor] = []
        self._optimizer_values: dict[int, dict[str, Any]] = {}
        self._param_groups: list[dict[str, Any]] = []

    @property
    def model_state(self) -> dict[str, Tensor]:
        """name -> tensor, the captured model ``state_dict`` (parameters and buffers); read only."""
        state = self._sets[self._current]
        return state if state is not None else {}

    @property
    def best_state(self) -> dict[str, Tensor] | None:
        """name -> tensor, the weights of the best epoch so far (None before one); read only."""
        return self._best

    def set_best(self, state: Mapping[str, Tensor] | None) -> None:
        """Use ``state`` (e.g. restored from disk) as the best weights until a capture marks a new best."""
        self._best = dict(state) if state is not None else None

    def capture(self, epoch: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                counters: Mapping[str, Any], is_best: bool = False) -> None:
        """Copy the model, the optimiser state and the counters (``counters["history"]`` by length).

        ``is_best`` keeps the captured weights as the best ones (no extra copy).
        """
        self.epoch = -1  # invalid until the copy is complete
        model_state = model.state_dict(keep_vars=True)  # the parameters and buffers themselves
        names, model_tensors = list(model_state), list(model_state.values())
        keys, optimizer_tensors, values = self._optimizer_sources(optimizer)
        sources = model_tensors + optimizer_tensors
        layout = _layout(sources)
        if layout != self._layout or names != self._names or keys != self._optimizer_keys:
            self._allocate(names, keys, optimizer_tensors)
            self._layout = layout
        current = self._sets[self._current]
        target = self._current if current is None or current is not self._best else 1 - self._current
        if self._sets[target] is None:
            self._sets[target] = {name: t.detach().clone() for name, t in zip(names, model_tensors)}
            self._lists[target] = list(self._sets[target].values())
        with torch.no_grad():  # sources that require grad are read, not recorded
            torch._foreach_copy_(self._lists[target] + self._optimizer_buffers, sources)
        self._current = target
        self._optimizer_values = values
        self._param_groups = [dict(group) for group in optimizer.param_groups]  # hyper-parameters at this epoch
        self.counters = {k: v for k, v in counters.items() if k != "history"}
        self.history_length = len(counters.get("history", ()))
        if is_best:
            self._best = self._sets[target]
        self.epoch = epoch

    def optimizer_state(self, clone: bool = False) -> dict[str, Any]:
        """The captured optimiser state in ``Optimizer.state_dict()`` form.

        ``clone`` copies the tensors: ``Optimizer.load_state_dict`` keeps the tensors it is given
        when dtype and device already match, and the optimiser must not then update the
        snapshot's buffers in place.
        """
        state: dict[int, dict[str, Any]] = {index: copy.deepcopy(values) for index, values in self._optimizer_values.items()}
        for (index, key), value in zip(self._optimizer_keys, self._optimizer_buffers):
            state.setdefault(index, {})[key] = value.clone() if clone else value
        groups, start = [], 0
        for group in self._param_groups:  # state_dict numbering: 0, 1, ... in the order of the groups
            count = len(group["params"])
            groups.append({**group, "params": list(range(start, start + count))})
            start += count
        return {"state": state, "param_groups": groups}

    def restore(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
        """Put the captured weights, buffers and optimiser state back (the copies stay the snapshot's)."""
        if self.epoch < 0:
            raise RuntimeError("no complete snapshot to restore")
        model.load_state_dict(self.model_state)
        optimizer.load_state_dict(self.optimizer_state(clone=True))

    def trainer_counters(self, history: list[dict[str, float]]) -> dict[str, Any]:
        """The captured counters with the history as it was then (``history`` only grows)."""
        return {**copy.deepcopy(self.counters), "history": list(history[: self.history_length])}

    def _allocate(self, names: list[str], keys: list[tuple[int, str]], optimizer_tensors: list[Tensor]) -> None:
        """Drop the buffer sets (the best weights, if any, stay referenced as they are) and size new ones."""
        self._names, self._optimizer_keys = names, keys
        self._sets, self._lists = [None, None], [[], []]
        self._optimizer_buffers = [t.detach().clone() for t in optimizer_tensors]

    @staticmethod
    def _optimizer_sources(optimizer: torch.optim.Optimizer):
        """((index, key) list, tensors, non-tensor values) in ``Optimizer.state_dict`` numbering.

        ``Optimizer.state_dict`` numbers the parameters 0, 1, ... in the order of its groups.
        """
        keys: list[tuple[int, str]] = []
        tensors: list[Tensor] = []
        values: dict[int, dict[str, Any]] = {}
        state = optimizer.state
        index = 0
        for group in optimizer.param_groups:
            for parameter in group["params"]:
                entries = state.get(parameter)
                if entries:
                    for key, value in entries.items():
                        if isinstance(value, Tensor):
                            keys.append((index, key))
                            tensors.append(value)
                        else:
                            values.setdefault(index, {})[key] = copy.deepcopy(value)
                index += 1
        return keys, tensors, values
