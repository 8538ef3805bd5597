"""Classic data augmentation, the baseline the thesis compares generated data against.

Random affine, elastic deformation, bias field and Gaussian noise (MONAI transforms), drawn anew
for every image at every epoch (on the fly), on the in-memory tensors. Seeded: the same seed gives
the same sequence of transforms.

The elastic deformation is MONAI's ``RandSmoothDeform``: a random displacement drawn on a coarse
grid of control points and interpolated to the image, ~10 ms for a 42x52x44 image on one CPU
thread. ``Rand3DElastic`` smooths a full-resolution random field instead and took ~180 ms,
longer than a training step of the demo network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from monai.transforms import Compose, RandAffine, RandBiasField, RandGaussianNoise, RandSmoothDeform

from medaug.config import check_keys, dataclass_keys


@dataclass(frozen=True)
class AugmentationConfig:
    """Ranges are in voxels / radians as MONAI takes them; each ``*_prob`` is the chance a transform fires."""

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
        check_keys(values, dataclass_keys(cls), "augmentation")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


class ClassicAugmentation:
    """Callable on one image (C, D, H, W) -> augmented image of the same shape (float32 tensor)."""

    def __init__(self, config: AugmentationConfig, spatial_shape: Sequence[int], seed: int) -> None:
        self.config = config
        c = config
        spatial_shape = tuple(int(n) for n in spatial_shape)
        if len(spatial_shape) != 3:
            raise ValueError(f"classic augmentation is 3D; got spatial shape {spatial_shape}")
        self.transform = Compose([
            RandAffine(prob=c.affine_prob, rotate_range=(c.rotate_range,) * 3,
                       translate_range=(c.translate_range,) * 3, scale_range=(c.scale_range,) * 3,
                       padding_mode="zeros", mode="bilinear"),
            RandSmoothDeform(spatial_size=spatial_shape, rand_size=(c.elastic_control_points,) * 3,
                             prob=c.elastic_prob, def_range=c.elastic_magnitude, field_mode="trilinear",
                             grid_mode="bilinear", grid_padding_mode="zeros", align_corners=False),
            RandBiasField(prob=c.bias_field_prob, coeff_range=c.bias_field_coeff_range),
            RandGaussianNoise(prob=c.noise_prob, mean=0.0, std=c.noise_std),
        ])
        self.transform.set_random_state(seed=int(seed) % 2**32)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        out = self.transform(image)
        if hasattr(out, "as_tensor"):  # MONAI MetaTensor -> plain tensor
            out = out.as_tensor()
        return torch.as_tensor(out, dtype=torch.float32).reshape(image.shape)

    def batch(self, images: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, C, D, H, W) -> (B, C, D, H, W), each image augmented independently; with a bool
        ``mask`` (B,), only the images it marks (the others are returned as they are and draw no
        random numbers, so a batch of marked images only is augmented as without a mask)."""
        if mask is None:
            return torch.stack([self(image) for image in images])
        return torch.stack([self(image) if bool(keep) else image for image, keep in zip(images, mask)])


def augmentation_from_params(values: Mapping[str, Any] | bool | None, spatial_shape: Sequence[int],
                             seed: int) -> ClassicAugmentation | None:
    """``None`` when ``values`` is empty / false; else a seeded :class:`ClassicAugmentation`
    (``True``: the default ranges)."""
    if not values:
        return None
    values = {} if values is True else dict(values)
    return ClassicAugmentation(AugmentationConfig.from_dict(values), spatial_shape, seed)


__all__ = ["AugmentationConfig", "ClassicAugmentation", "augmentation_from_params"]
