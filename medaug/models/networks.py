"""Encoders, decoders and the RHVAE metric network, for 2D slices and 3D volumes.

Two architectures, chosen by :attr:`NetworkConfig.architecture`:

* ``"conv"`` (default): strided convolutions down to a small feature map, two linear heads
  (mean, log-variance); the decoder mirrors it with transposed convolutions whose output padding
  is chosen so that the output has exactly the input's shape (odd sizes such as 89 included).
  The default (16-32-64-128 channels, strides 2) fits 1x84x104x89 volumes on a CPU.
* ``"mlp"``: fully connected networks on the flattened input, any number n >= 1 of hidden layers
  ``hidden_sizes = (h1, ..., hn)``: mean D->h1->...->hn->d; the log-variance shares the first
  ``mlp_shared_layers`` hidden layers with the mean and has its own copies of the others; decoder
  d->hn->...->h1->D. Thesis configurations (Chadebec, PhD thesis):

  - ch. 1, table 1.10 / ch. 2, table 2.5 (MNIST, EMNIST, Fashion): D-400-d, ``hidden_sizes=(400,)``
    (one hidden layer, shared by both heads whatever ``mlp_shared_layers``);
  - ch. 2, table 2.5 (OASIS): D-1000-400-d with both hidden layers shared,
    ``hidden_sizes=(1000, 400)``, ``mlp_shared_layers=2`` (decoder d-400-1000-D);
  - ch. 1, table 1.13 (ADNI): D-500-500-400-d, log-variance sharing D->500 only,
    ``hidden_sizes=(500, 500, 400)``, ``mlp_shared_layers=1`` (the default).

The metric network (thesis eq. 1.7, table 1.13) maps an input to L, lower-triangular with a
positive diagonal: a trunk (the conv trunk, or D->m ReLU with m = ``metric_hidden_size``), a diagonal head whose output goes
through a bounded exponential, and a head for the d(d-1)/2 strictly-lower entries.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from medaug.config import check_keys, dataclass_keys

__all__ = [
    "NetworkConfig",
    "config_from_dict",
    "ConvTrunk",
    "ConvEncoder",
    "ConvDecoder",
    "MLPEncoder",
    "MLPDecoder",
    "MetricNetwork",
    "bounded_exp",
    "lower_triangular_from_heads",
    "build_encoder",
    "build_decoder",
    "build_metric_network",
    "check_input",
]

_ARCHITECTURES = ("conv", "mlp")
_OUTPUT_ACTIVATIONS = ("sigmoid", "identity")


@dataclass(frozen=True)
class NetworkConfig:
    """Sizes of the encoder, decoder and metric network.

    Attributes:
        spatial_dims: 2 (slices) or 3 (volumes).
        in_channels: image channels (1 for T1w).
        spatial_shape: image size without the channel axis, e.g. (84, 104, 89).
        latent_size: d, the latent dimension.
        architecture: ``"conv"`` or ``"mlp"`` (thesis table 1.13).
        channels: conv only, output channels of each encoder level (the decoder mirrors them).
        strides: conv only, stride of each encoder level (same length as ``channels``).
        kernel_size: conv only, odd kernel size (padding ``kernel_size // 2``).
        hidden_sizes: mlp only, widths of the hidden layers from the input side, (h1, ..., hn),
            n >= 1: (400,) in thesis table 1.10, (1000, 400) for OASIS in table 2.5, (500, 500, 400)
            in table 1.13.
        mlp_shared_layers: mlp only, how many of the first hidden layers the encoder's mean and
            log-variance share (1 <= k <= n): 1 in table 1.13, n in tables 1.10 and 2.5.
        metric_hidden_size: width m of the metric network's trunk output (400 in tables 1.10, 1.13, 2.5).
        metric_channels: conv only, channels of the metric network's own conv trunk (same strides);
            None uses ``channels``. Smaller values make the RHVAE step cheaper (the thesis' metric
            network, one hidden layer, is lighter than its encoder).
        metric_max_log_diagonal: the diagonal of L is ``exp(b tanh(s / b))`` with this b, so it
            stays in [exp(-b), exp(b)]: an unbounded exponential lets G^-1 grow without limit in training.
        output_activation: ``"sigmoid"`` (intensities in [0, 1], as in the thesis) or ``"identity"``.
    """

    spatial_dims: int = 3
    in_channels: int = 1
    spatial_shape: tuple[int, ...] = (84, 104, 89)
    latent_size: int = 10
    architecture: str = "conv"
    channels: tuple[int, ...] = (16, 32, 64, 128)
    strides: tuple[int, ...] = (2, 2, 2, 2)
    kernel_size: int = 3
    hidden_sizes: tuple[int, ...] = (500, 500, 400)
    mlp_shared_layers: int = 1
    metric_hidden_size: int = 400
    metric_channels: tuple[int, ...] | None = None
    metric_max_log_diagonal: float = 4.0
    output_activation: str = "sigmoid"

    def __post_init__(self) -> None:
        for name in ("spatial_shape", "channels", "strides", "hidden_sizes"):
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))
        if self.metric_channels is not None:
            object.__setattr__(self, "metric_channels", tuple(int(v) for v in self.metric_channels))
            if len(self.metric_channels) != len(self.strides) or min(self.metric_channels) <= 0:
                raise ValueError(f"metric_channels {self.metric_channels} must be positive, one per stride {self.strides}")
        if self.spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {self.spatial_dims}")
        if len(self.spatial_shape) != self.spatial_dims:
            raise ValueError(f"spatial_shape {self.spatial_shape} does not have spatial_dims={self.spatial_dims} axes")
        if self.architecture not in _ARCHITECTURES:
            raise ValueError(f"architecture must be one of {_ARCHITECTURES}, got {self.architecture!r}")
        if self.output_activation not in _OUTPUT_ACTIVATIONS:
            raise ValueError(f"output_activation must be one of {_OUTPUT_ACTIVATIONS}, got {self.output_activation!r}")
        if len(self.channels) != len(self.strides) or not self.channels:
            raise ValueError(f"channels {self.channels} and strides {self.strides} must be non-empty and of equal length")
        if self.kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {self.kernel_size}")
        if not self.hidden_sizes:
            raise ValueError("hidden_sizes must list at least one hidden layer width, e.g. [400]")
        if not 1 <= self.mlp_shared_layers <= len(self.hidden_sizes):
            raise ValueError(
                f"mlp_shared_layers must be in [1, {len(self.hidden_sizes)}] (the number of hidden layers "
                f"{list(self.hidden_sizes)}), got {self.mlp_shared_layers}"
            )
        positive = {
            "in_channels": self.in_channels,
            "latent_size": self.latent_size,
            "metric_hidden_size": self.metric_hidden_size,
            "metric_max_log_diagonal": self.metric_max_log_diagonal,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if min(self.spatial_shape + self.channels + self.strides + self.hidden_sizes) <= 0:
            raise ValueError("spatial_shape, channels, strides and hidden_sizes must be positive")

    @property
    def in_shape(self) -> tuple[int, ...]:
        """(C, *spatial_shape), the shape of one input without the batch axis."""
        return (self.in_channels, *self.spatial_shape)

    @property
    def in_features(self) -> int:
        """D, the number of values of one input."""
        return math.prod(self.in_shape)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "NetworkConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an error (a typo must not pass silently)."""
        return config_from_dict(cls, values)


def config_from_dict(cls, values: dict[str, Any]):
    """``cls(**values)`` for a config dataclass, refusing unknown keys with a message that lists the known ones."""
    check_keys(values, dataclass_keys(cls), cls.__name__)
    return cls(**values)


def check_input(x: Tensor, in_shape: tuple[int, ...]) -> None:
    """Raise ``ValueError`` unless ``x`` is a finite (B, *in_shape) floating-point batch."""
    if not isinstance(x, Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(x).__name__}")
    if x.ndim != len(in_shape) + 1 or tuple(x.shape[1:]) != tuple(in_shape):
        raise ValueError(f"expected input of shape (B, {', '.join(map(str, in_shape))}), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"expected a floating-point input, got {x.dtype}")
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        samples = torch.nonzero(bad.flatten(1).any(1)).flatten().tolist()
        raise ValueError(f"input contains NaN or Inf values ({int(bad.sum())} voxels, batch items {samples[:10]})")


def _conv(spatial_dims: int, transposed: bool = False) -> type[nn.Module]:
    if transposed:
        return nn.ConvTranspose2d if spatial_dims == 2 else nn.ConvTranspose3d
    return nn.Conv2d if spatial_dims == 2 else nn.Conv3d


def _channels_last(spatial_dims: int) -> torch.memory_format:
    """Channels-last layout: oneDNN's (transposed) convolutions run ~25-30% faster with it on CPU."""
    return torch.channels_last if spatial_dims == 2 else torch.channels_last_3d


def _conv_output_size(size: int, kernel_size: int, stride: int) -> int:
    padding = kernel_size // 2
    return (size + 2 * padding - kernel_size) // stride + 1


class ConvTrunk(nn.Module):
    """Strided convolutions + ReLU, then flatten: (B, C, *S) -> (B, out_features).

    Attributes:
        level_shapes: spatial shape at the input of each level and after the last one
            (``len(channels) + 1`` entries); the decoder uses them to undo the strides exactly.
        out_features: channels[-1] * prod(level_shapes[-1]).
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        spatial_shape: tuple[int, ...],
        channels: tuple[int, ...],
        strides: tuple[int, ...],
        kernel_size: int,
    ) -> None:
        super().__init__()
        conv = _conv(spatial_dims)
        layers: list[nn.Module] = []
        shapes = [tuple(spatial_shape)]
        previous = in_channels
        for out_channels, stride in zip(channels, strides):
            layers += [conv(previous, out_channels, kernel_size, stride=stride, padding=kernel_size // 2), nn.ReLU()]
            shapes.append(tuple(_conv_output_size(s, kernel_size, stride) for s in shapes[-1]))
            previous = out_channels
        self.memory_format = _channels_last(spatial_dims)
        self.layers = nn.Sequential(*layers).to(memory_format=self.memory_format)
        self.level_shapes: tuple[tuple[int, ...], ...] = tuple(shapes)
        self.out_features = channels[-1] * math.prod(shapes[-1])

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, *S) -> (B, out_features)."""
        return self.layers(x.contiguous(memory_format=self.memory_format)).flatten(1)


class ConvEncoder(nn.Module):
    """Conv trunk + two linear heads: (B, C, *S) -> mean (B, d), log-variance (B, d)."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.trunk = ConvTrunk(
            config.spatial_dims, config.in_channels, config.spatial_shape, config.channels, config.strides, config.kernel_size
        )
        self.mean = nn.Linear(self.trunk.out_features, config.latent_size)
        self.log_var = nn.Linear(self.trunk.out_features, config.latent_size)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        features = self.trunk(x)
        return self.mean(features), self.log_var(features)


def _output_activation(name: str) -> nn.Module:
    return nn.Sigmoid() if name == "sigmoid" else nn.Identity()


class ConvDecoder(nn.Module):
    """Linear + transposed convolutions mirroring :class:`ConvEncoder`: (B, d) -> (B, C, *S).

    Each transposed convolution's ``output_padding`` is chosen so that level sizes are exactly
    the encoder's, in reverse.
    """

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        shapes = ConvTrunk(
            config.spatial_dims, config.in_channels, config.spatial_shape, config.channels, config.strides, config.kernel_size
        ).level_shapes
        self._bottleneck_shape = (config.channels[-1], *shapes[-1])
        self.linear = nn.Linear(config.latent_size, math.prod(self._bottleneck_shape))
        conv_t = _conv(config.spatial_dims, transposed=True)
        padding = config.kernel_size // 2
        out_channels = (config.in_channels, *config.channels[:-1])
        layers: list[nn.Module] = []
        for level in reversed(range(len(config.channels))):
            stride = config.strides[level]
            source, target = shapes[level + 1], shapes[level]
            output_padding = tuple(
                t - ((s - 1) * stride - 2 * padding + config.kernel_size) for s, t in zip(source, target)
            )
            if min(output_padding) < 0 or max(output_padding) >= stride:
                raise ValueError(f"cannot mirror level {level}: sizes {source} -> {target} with stride {stride}")
            layers.append(
                conv_t(
                    config.channels[level],
                    out_channels[level],
                    config.kernel_size,
                    stride=stride,
                    padding=padding,
                    output_padding=output_padding,
                )
            )
            if level > 0:
                layers.append(nn.ReLU())
        self.memory_format = _channels_last(config.spatial_dims)
        self.layers = nn.Sequential(*layers).to(memory_format=self.memory_format)
        self.activation = _output_activation(config.output_activation)

    def forward(self, z: Tensor) -> Tensor:
        hidden = torch.relu(self.linear(z)).reshape(z.shape[0], *self._bottleneck_shape)
        output = self.activation(self.layers(hidden.contiguous(memory_format=self.memory_format)))
        return output.contiguous()


def _mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with ReLU between them and after the last one."""
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    """Mean D->h1->...->hn->d; the log-variance shares D->h1->...->hk (k = ``mlp_shared_layers``),
    then has its own hk->...->hn->d (thesis tables 1.10, 1.13, 2.5; see the module docstring).

    (B, C, *S) -> mean (B, d), log-variance (B, d). ``mean_branch`` and ``log_var_branch`` are empty
    when every hidden layer is shared.
    """

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        sizes = list(config.hidden_sizes)
        shared = config.mlp_shared_layers
        self.shared = _mlp([config.in_features, *sizes[:shared]])
        self.mean_branch = _mlp(sizes[shared - 1 :])
        self.log_var_branch = _mlp(sizes[shared - 1 :])
        self.mean = nn.Linear(sizes[-1], config.latent_size)
        self.log_var = nn.Linear(sizes[-1], config.latent_size)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        shared = self.shared(x.flatten(1))
        return self.mean(self.mean_branch(shared)), self.log_var(self.log_var_branch(shared))


class MLPDecoder(nn.Module):
    """The encoder's hidden widths in reverse, d->hn->...->h1->D, then reshape: (B, d) -> (B, C, *S)."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        sizes = list(config.hidden_sizes)
        self.hidden = _mlp([config.latent_size, *reversed(sizes)])
        self.output = nn.Linear(sizes[0], config.in_features)
        self.activation = _output_activation(config.output_activation)
        self._out_shape = config.in_shape

    def forward(self, z: Tensor) -> Tensor:
        return self.activation(self.output(self.hidden(z))).reshape(z.shape[0], *self._out_shape)


def bounded_exp(raw: Tensor, max_log: float) -> Tensor:
    """exp(b tanh(raw / b)): smooth, equal to exp(raw) near 0, bounded in [exp(-b), exp(b)]."""
    return torch.exp(max_log * torch.tanh(raw / max_log))


def lower_triangular_from_heads(diagonal: Tensor, lower: Tensor) -> Tensor:
    """Assemble L from its diagonal (B, d) and strictly-lower entries (B, d(d-1)/2): -> (B, d, d).

    The strictly-lower entries fill ``torch.tril_indices(d, d, offset=-1)`` in row-major order.
    """
    batch, dim = diagonal.shape
    if lower.shape != (batch, dim * (dim - 1) // 2):
        raise ValueError(f"lower must be {(batch, dim * (dim - 1) // 2)}, got {tuple(lower.shape)}")
    rows, cols = torch.tril_indices(dim, dim, offset=-1, device=diagonal.device)
    matrix = torch.diag_embed(diagonal)
    return matrix.index_put((torch.arange(batch, device=diagonal.device)[:, None], rows, cols), lower)


class MetricNetwork(nn.Module):
    """x -> L_psi(x), lower-triangular with a positive diagonal: (B, C, *S) -> (B, d, d).

    Trunk: its own conv trunk (``metric_channels``) + Linear + ReLU (``"conv"``), or D->m ReLU
    (``"mlp"``, one hidden layer whatever ``hidden_sizes``, thesis tables 1.10, 1.13, 2.5), with
    m = ``metric_hidden_size``.
    Heads: diagonal ``m -> d`` through :func:`bounded_exp`; strictly-lower ``m -> d(d-1)/2``.
    """

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        hidden = config.metric_hidden_size
        if config.architecture == "conv":
            channels = config.metric_channels if config.metric_channels is not None else config.channels
            conv = ConvTrunk(config.spatial_dims, config.in_channels, config.spatial_shape, channels, config.strides, config.kernel_size)
            self.trunk = nn.Sequential(conv, nn.Linear(conv.out_features, hidden), nn.ReLU())
        else:
            self.trunk = nn.Sequential(nn.Flatten(1), nn.Linear(config.in_features, hidden), nn.ReLU())
        dim = config.latent_size
        self.diagonal = nn.Linear(hidden, dim)
        self.lower = nn.Linear(hidden, dim * (dim - 1) // 2)
        self.max_log_diagonal = float(config.metric_max_log_diagonal)

    def forward(self, x: Tensor) -> Tensor:
        features = self.trunk(x)
        diagonal = bounded_exp(self.diagonal(features), self.max_log_diagonal)
        return lower_triangular_from_heads(diagonal, self.lower(features))


def build_encoder(config: NetworkConfig) -> nn.Module:
    """The encoder for ``config.architecture``: (B, C, *S) -> (mean (B, d), log-variance (B, d))."""
    return ConvEncoder(config) if config.architecture == "conv" else MLPEncoder(config)


def build_decoder(config: NetworkConfig) -> nn.Module:
    """The decoder for ``config.architecture``: (B, d) -> (B, C, *S)."""
    return ConvDecoder(config) if config.architecture == "conv" else MLPDecoder(config)


def build_metric_network(config: NetworkConfig) -> MetricNetwork:
    """The RHVAE metric network: (B, C, *S) -> L (B, d, d)."""
    return MetricNetwork(config)
