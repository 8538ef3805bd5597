"""Classic data augmentation, the baseline the thesis compares generated data against.

Random affine, elastic deformation, bias field and Gaussian noise, drawn anew for every image at
every step (on the fly), on the in-memory tensors of a whole batch at once. Seeded: the same seed
gives the same sequence of transforms.

The transforms are those of MONAI's ``RandAffine``, ``RandSmoothDeform``, ``RandBiasField`` and
``RandGaussianNoise`` with the same ranges, written as batched torch operations: the affine map and
the elastic displacement are composed into one sampling grid, so an image is interpolated once
(one ``grid_sample`` per batch), and the bias field is a product of Legendre polynomials evaluated
on a basis computed once. Applied image by image, MONAI's transforms took ~10 ms per 42x52x44
image on one CPU thread, five times a training step of the demo network
(``python -m benchmarks.speed.augmentation`` prints the ratio).

Coordinates follow ``torch.nn.functional.grid_sample``: a grid's last axis is (x, y, z) = the
image's (W, H, D) axes, in normalised units (-1 and 1 are the outer edges of the first and last
voxels, ``align_corners=False``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn import functional as F

from medaug.config import check_keys, dataclass_keys

BIAS_FIELD_DEGREE = 3
"""Largest total degree of the bias field's polynomial (MONAI ``RandBiasField``'s default)."""


@dataclass(frozen=True)
class AugmentationConfig:
    """Ranges in voxels / radians, as MONAI takes them; each ``*_prob`` is the chance a transform fires."""

    affine_prob: float = 0.5
    rotate_range: float = 0.1            # radians, each axis, uniform in [-r, r]
    translate_range: float = 2.0         # voxels
    scale_range: float = 0.05            # relative
    elastic_prob: float = 0.3
    elastic_control_points: int = 5      # per axis, of the coarse random displacement grid
    elastic_magnitude: float = 0.03      # largest displacement, fraction of the half field of view
    bias_field_prob: float = 0.3
    bias_field_coeff_range: tuple[float, float] = (0.0, 0.1)
    noise_prob: float = 0.3
    noise_std: float = 0.02              # images are min-max rescaled to [0, 1]

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "AugmentationConfig":
        """Build from ``classify.<set>.augmentation`` (unknown keys are refused)."""
        check_keys(values, dataclass_keys(cls), "augmentation")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def rotation_matrices(angles: torch.Tensor) -> torch.Tensor:
    """(B, 3) angles (radians) about the x, y, z axes -> (B, 3, 3) rotations ``Rz @ Ry @ Rx``."""
    cos, sin = torch.cos(angles), torch.sin(angles)
    one, zero = torch.ones_like(cos[:, 0]), torch.zeros_like(cos[:, 0])

    def stack(rows):
        return torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2)

    rx = stack([[one, zero, zero], [zero, cos[:, 0], -sin[:, 0]], [zero, sin[:, 0], cos[:, 0]]])
    ry = stack([[cos[:, 1], zero, sin[:, 1]], [zero, one, zero], [-sin[:, 1], zero, cos[:, 1]]])
    rz = stack([[cos[:, 2], -sin[:, 2], zero], [sin[:, 2], cos[:, 2], zero], [zero, zero, one]])
    return rz @ ry @ rx


def normalised_affine(linear: torch.Tensor, translation: torch.Tensor, sizes_xyz: Sequence[int]) -> torch.Tensor:
    """The ``affine_grid`` matrix (B, 3, 4) of a map about the image centre given in voxel units.

    An output voxel at ``x`` (voxels, (x, y, z) order) samples the input at ``linear @ (x - c) + c +
    translation``, ``c`` the centre. In normalised units, where ``n = 2 (x - c) / size``, the linear
    part is ``N linear N^-1`` and the offset ``N translation``, with ``N = diag(2 / size)``.
    """
    scale = torch.tensor([2.0 / n for n in sizes_xyz], dtype=linear.dtype)
    matrix = scale[:, None] * linear / scale[None, :]
    return torch.cat([matrix, (scale * translation)[..., None]], dim=-1)


def legendre_basis(spatial_shape: Sequence[int], degree: int = BIAS_FIELD_DEGREE) -> torch.Tensor:
    """Products ``P_i(z) P_j(y) P_k(x)`` of Legendre polynomials with ``i + j + k <= degree`` on the
    voxel centres of ``spatial_shape`` (D, H, W) in [-1, 1]: (n_terms, D, H, W) float32."""
    axes = [torch.linspace(-1.0, 1.0, int(n), dtype=torch.float64) for n in spatial_shape]
    polys = []
    for t in axes:  # P_0 .. P_degree by Bonnet's recursion
        values = [torch.ones_like(t), t]
        for n in range(1, degree):
            values.append(((2 * n + 1) * t * values[n] - n * values[n - 1]) / (n + 1))
        polys.append(values[: degree + 1])
    terms = [polys[0][i][:, None, None] * polys[1][j][None, :, None] * polys[2][k][None, None, :]
             for i in range(degree + 1) for j in range(degree + 1 - i) for k in range(degree + 1 - i - j)]
    return torch.stack(terms).to(torch.float32)


def _grid_nodes(spatial_shape: Sequence[int], spacing_voxels: int = 4) -> torch.Tensor:
    """Homogeneous normalised coordinates (Nd, Nh, Nw, 4) = (x, y, z, 1) of a coarse grid of nodes
    spanning the voxel centres of ``spatial_shape`` (D, H, W), about one node per ``spacing_voxels``."""
    axes = [torch.linspace(-1.0 + 1.0 / n, 1.0 - 1.0 / n, max(2, -(-(n - 1) // spacing_voxels) + 1),
                           dtype=torch.float64) for n in spatial_shape]
    z, y, x = torch.meshgrid(*axes, indexing="ij")
    return torch.stack([x, y, z, torch.ones_like(x)], dim=-1)


class ClassicAugmentation:
    """Seeded classic augmentation of batches (B, 1, D, H, W) of float32 images (see the module docstring).

    Every image of a batch draws the same number of random numbers whether or not a transform fires,
    so the sequence depends only on the seed and the number of images augmented so far.
    """

    def __init__(self, config: AugmentationConfig, spatial_shape: Sequence[int], seed: int) -> None:
        spatial_shape = tuple(int(n) for n in spatial_shape)
        if len(spatial_shape) != 3:
            raise ValueError(f"classic augmentation is 3D; got spatial shape {spatial_shape}")
        low, high = config.bias_field_coeff_range
        if not 0 <= low <= high:
            raise ValueError(f"augmentation bias_field_coeff_range must be 0 <= low <= high, got {(low, high)}")
        self.config = config
        self.spatial_shape = spatial_shape
        self.generator = torch.Generator().manual_seed(int(seed) % 2**63)
        self.bias_basis = legendre_basis(spatial_shape)
        self._nodes = _grid_nodes(spatial_shape)

    def _uniform(self, shape: Sequence[int], bound: float) -> torch.Tensor:
        return (torch.rand(*shape, generator=self.generator, dtype=torch.float64) * 2.0 - 1.0) * bound

    def _fires(self, n: int, prob: float) -> torch.Tensor:
        return torch.rand(n, generator=self.generator, dtype=torch.float64) < prob

    def _sampling_grid(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(grid (m, D, H, W, 3) of the m moving images, bool (n,) which images move): the affine and
        elastic parts composed on a coarse grid of nodes and interpolated to the voxels once.

        The affine part is linear in the coordinates, so trilinear interpolation reproduces it exactly
        at every voxel; the elastic part is a smooth field drawn on ``elastic_control_points`` nodes.
        """
        c = self.config
        affine, elastic = self._fires(n, c.affine_prob), self._fires(n, c.elastic_prob)
        angles = self._uniform((n, 3), c.rotate_range)
        translation = self._uniform((n, 3), c.translate_range)
        scales = 1.0 + self._uniform((n, 3), c.scale_range)
        k = int(c.elastic_control_points)
        coarse = self._uniform((n, 3, k, k, k), c.elastic_magnitude)
        moves = affine | elastic
        if not bool(moves.any()):
            return torch.empty(0, *self.spatial_shape, 3), moves
        linear = rotation_matrices(angles) * scales[:, None, :]
        eye = torch.eye(3, dtype=torch.float64).expand(n, 3, 3)
        linear = torch.where(affine[:, None, None], linear, eye)[moves]
        translation = torch.where(affine[:, None], translation, torch.zeros_like(translation))[moves]
        depth, height, width = self.spatial_shape
        theta = normalised_affine(linear, translation, (width, height, depth))
        nodes = self._nodes                                                  # (Nd, Nh, Nw, 4), (x, y, z, 1)
        mapped = torch.einsum("dhwj,bij->bidhw", nodes, theta)                # (m, 3, Nd, Nh, Nw)
        field = F.interpolate(coarse[moves], size=nodes.shape[:3], mode="trilinear", align_corners=True)
        mapped = mapped + field * elastic[moves][:, None, None, None, None]
        grid = F.interpolate(mapped.to(torch.float32), size=self.spatial_shape, mode="trilinear", align_corners=True)
        return grid.permute(0, 2, 3, 4, 1), moves

    def _bias_and_noise(self, images: torch.Tensor) -> torch.Tensor:
        c = self.config
        n = images.shape[0]
        bias, noisy = self._fires(n, c.bias_field_prob), self._fires(n, c.noise_prob)
        low, high = c.bias_field_coeff_range
        coefficients = low + torch.rand(n, self.bias_basis.shape[0], generator=self.generator,
                                        dtype=torch.float64) * (high - low)
        noise = torch.randn(images.shape, generator=self.generator, dtype=torch.float32)
        coefficients = (coefficients * bias[:, None]).to(torch.float32)
        field = torch.exp(torch.einsum("bt,tdhw->bdhw", coefficients, self.bias_basis))
        scale = torch.where(noisy, c.noise_std, 0.0).to(torch.float32)
        return images * field[:, None] + noise * scale[:, None, None, None, None]

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 1, D, H, W) -> (B, 1, D, H, W): every image transformed independently (float32)."""
        images = torch.as_tensor(images, dtype=torch.float32)
        if images.ndim != 5 or tuple(images.shape[2:]) != self.spatial_shape:
            raise ValueError(f"augmentation expects (B, C, {self.spatial_shape}) images, got {tuple(images.shape)}")
        grid, moves = self._sampling_grid(images.shape[0])
        out = images.clone()
        if bool(moves.any()):
            out[moves] = F.grid_sample(images[moves], grid, mode="bilinear", padding_mode="zeros",
                                       align_corners=False)
        return self._bias_and_noise(out)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        """One image (C, D, H, W) -> the same shape."""
        return self.augment(image[None])[0]

    def batch(self, images: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, C, D, H, W) -> (B, C, D, H, W), each image augmented independently; with a bool
        ``mask`` (B,), only the images it marks (the others are returned as they are and draw no
        random numbers, so a batch of marked images only is augmented as without a mask)."""
        if mask is None:
            return self.augment(images)
        mask = torch.as_tensor(mask, dtype=torch.bool)
        out = torch.as_tensor(images, dtype=torch.float32).clone()
        if bool(mask.any()):
            out[mask] = self.augment(out[mask])
        return out


def augmentation_from_params(values: Mapping[str, Any] | bool | None, spatial_shape: Sequence[int],
                             seed: int) -> ClassicAugmentation | None:
    """``None`` when ``values`` is empty / false; else a seeded :class:`ClassicAugmentation`
    (``True``: the default ranges)."""
    if not values:
        return None
    values = {} if values is True else dict(values)
    return ClassicAugmentation(AugmentationConfig.from_dict(values), spatial_shape, seed)


__all__ = ["AugmentationConfig", "ClassicAugmentation", "augmentation_from_params", "legendre_basis",
           "normalised_affine", "rotation_matrices"]

