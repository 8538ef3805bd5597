"""Conv5_FC3: the AD-vs-CN baseline CNN of Wen et al. (2020), used in the thesis (fig. 1.7, A1/A2).

Five convolutional blocks, each ``Conv(k=3, padding=1) -> BatchNorm -> ReLU -> MaxPool(2, stride 2)``
with 8, 16, 32, 64, 128 channels, then ``Dropout(0.5) -> Linear(flat, 1300) -> LeakyReLU ->
Linear(1300, 50) -> LeakyReLU -> Linear(50, 2)`` (a LeakyReLU after every fully connected layer but
the last). The pooling rounds odd sizes up (``ceil_mode``), as Wen et al.'s padded max-pool does,
so no border voxel is dropped.

The flatten size is computed from the input shape. Variants (:data:`VARIANTS`):

- ``baseline`` (A1): fully connected sizes (1300, 50), meant for 169x208x179 inputs;
- ``baseline-downsampled`` (A2): the hidden sizes scaled by the ratio of the flatten size at the
  given input (84x104x89 in the thesis) to the flatten size at 169x208x179, which keeps the ratio
  between each layer's input and output nodes of A1 (thesis sec. 1.5.5);
- ``small``: the input first averaged over 2x2x2 voxels, then four blocks of 4, 8, 16, 32 channels
  and one hidden layer of 32 nodes, for the CPU demo (about 42x52x44 voxels: ~5 ms per image for a
  forward + backward pass on one CPU thread, against ~50 ms without the input pooling).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from medaug.config import check_keys, dataclass_keys

REFERENCE_SHAPE = (169, 208, 179)
"""Input shape (D, H, W) at which Wen et al.'s fully connected sizes were chosen."""

_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
_POOL = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}


def pooled_shape(in_shape: Sequence[int], n_blocks: int) -> tuple[int, ...]:
    """Spatial shape after ``n_blocks`` 2x max-pools rounding up (size-preserving convolutions)."""
    shape = tuple(int(n) for n in in_shape)
    for _ in range(n_blocks):
        shape = tuple(math.ceil(n / 2) for n in shape)
    return shape


def flatten_size(in_shape: Sequence[int], channels: Sequence[int], input_pooling: int = 1) -> int:
    """Number of features entering the first fully connected layer."""
    shape = tuple(math.ceil(int(n) / input_pooling) for n in in_shape)
    return int(channels[-1]) * math.prod(pooled_shape(shape, len(channels)))


def scaled_fc_features(
    in_shape: Sequence[int],
    channels: Sequence[int],
    reference_features: Sequence[int],
    reference_shape: Sequence[int] = REFERENCE_SHAPE,
) -> tuple[int, ...]:
    """Hidden fully connected sizes that keep the reference network's input/output node ratios.

    With ``s = flatten(in_shape) / flatten(reference_shape)``, every hidden size is multiplied by
    ``s`` (rounded, at least 2): layer ``i`` then maps ``s * a_i`` to ``s * b_i`` nodes, the same
    ratio ``a_i / b_i`` as the reference. At 84x104x89: (1300, 50) -> (186, 7).
    """
    scale = flatten_size(in_shape, channels) / flatten_size(reference_shape, channels)
    return tuple(max(2, round(n * scale)) for n in reference_features)


@dataclass(frozen=True)
class Conv5FC3Config:
    """Everything needed to rebuild the network (saved as JSON next to the weights)."""

    in_shape: tuple[int, ...]
    spatial_dims: int = 3
    in_channels: int = 1
    out_channels: int = 2
    channels: tuple[int, ...] = (8, 16, 32, 64, 128)
    fc_features: tuple[int, ...] = (1300, 50)
    dropout: float = 0.5
    negative_slope: float = 0.01
    input_pooling: int = 1
    """Average-pooling factor applied to the input before the first block (1: none)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "in_shape", tuple(int(n) for n in self.in_shape))
        object.__setattr__(self, "channels", tuple(int(n) for n in self.channels))
        object.__setattr__(self, "fc_features", tuple(int(n) for n in self.fc_features))
        if len(self.in_shape) != self.spatial_dims:
            raise ValueError(f"in_shape {self.in_shape} does not have spatial_dims={self.spatial_dims} sizes")
        if self.spatial_dims not in _CONV:
            raise ValueError(f"spatial_dims must be 1, 2 or 3, got {self.spatial_dims}")
        if not self.channels or min(self.channels) < 1 or min(self.in_shape) < 1:
            raise ValueError(f"invalid channels {self.channels} or in_shape {self.in_shape}")
        if int(self.input_pooling) < 1:
            raise ValueError(f"input_pooling must be >= 1, got {self.input_pooling}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Conv5FC3Config":
        check_keys(values, dataclass_keys(cls), "classify.network")
        return cls(**values)


class Conv5FC3(nn.Module):
    """Convolutional blocks + fully connected head; ``forward``: (B, C_in, *in_shape) -> logits (B, out_channels)."""

    def __init__(self, config: Conv5FC3Config) -> None:
        super().__init__()
        self.config = config
        conv, norm, pool = _CONV[config.spatial_dims], _NORM[config.spatial_dims], _POOL[config.spatial_dims]
        blocks: list[nn.Module] = []
        if config.input_pooling > 1:
            avg = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}[config.spatial_dims]
            blocks.append(avg(kernel_size=config.input_pooling, stride=config.input_pooling, ceil_mode=True))
        previous = config.in_channels
        for width in config.channels:
            blocks += [
                conv(previous, width, kernel_size=3, padding=1),
                norm(width),
                nn.ReLU(),
                pool(kernel_size=2, stride=2, ceil_mode=True),
            ]
            previous = width
        self.features = nn.Sequential(*blocks)

        sizes = [flatten_size(config.in_shape, config.channels, config.input_pooling), *config.fc_features, config.out_channels]
        head: list[nn.Module] = [nn.Flatten(), nn.Dropout(config.dropout)]
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            head.append(nn.Linear(n_in, n_out))
            if i < len(sizes) - 2:
                head.append(nn.LeakyReLU(config.negative_slope))
        self.classifier = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, *in_shape) -> (B, out_channels) logits."""
        if tuple(x.shape[2:]) != self.config.in_shape:
            raise ValueError(f"expected input of spatial shape {self.config.in_shape}, got {tuple(x.shape[2:])}")
        return self.classifier(self.features(x))


@dataclass(frozen=True)
class _Variant:
    channels: tuple[int, ...]
    fc_features: tuple[int, ...]
    scale_fc_to_input: bool = False
    defaults: dict[str, Any] = field(default_factory=dict)


VARIANTS: dict[str, _Variant] = {
    "baseline": _Variant((8, 16, 32, 64, 128), (1300, 50)),
    "baseline-downsampled": _Variant((8, 16, 32, 64, 128), (1300, 50), scale_fc_to_input=True),
    "small": _Variant((4, 8, 16, 32), (32,), defaults={"input_pooling": 2}),
}


def classifier_config(name: str, in_shape: Sequence[int], **overrides: Any) -> Conv5FC3Config:
    """The config of variant ``name`` (see :data:`VARIANTS`) for inputs of spatial shape ``in_shape``.

    ``overrides`` replace config fields (e.g. ``dropout``, ``channels``, ``fc_features``); for
    ``baseline-downsampled`` the scaling applies to the reference sizes unless ``fc_features`` is given.
    """
    if name not in VARIANTS:
        raise ValueError(f"unknown classifier {name!r}; choose one of {sorted(VARIANTS)}")
    variant = VARIANTS[name]
    channels = tuple(overrides.pop("channels", variant.channels))
    fc = overrides.pop("fc_features", None)
    if fc is None:
        fc = scaled_fc_features(in_shape, channels, variant.fc_features) if variant.scale_fc_to_input else variant.fc_features
    settings = {**variant.defaults, **overrides}
    return Conv5FC3Config(in_shape=tuple(in_shape), channels=channels, fc_features=tuple(fc), **settings)


def build_classifier(name: str, in_shape: Sequence[int], **overrides: Any) -> Conv5FC3:
    """A freshly initialised network of variant ``name`` for inputs of spatial shape ``in_shape``."""
    return Conv5FC3(classifier_config(name, in_shape, **overrides))
