"""Batched classic augmentation: coordinate conventions against exact shifts and rotations, the
ranges of each transform, seeding and the bad-input errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from medaug.classify.augment import (
    AugmentationConfig,
    ClassicAugmentation,
    augmentation_from_params,
    legendre_basis,
    normalised_affine,
    rotation_matrices,
)

OFF = dict(affine_prob=0.0, elastic_prob=0.0, bias_field_prob=0.0, noise_prob=0.0)


def _sample(images: torch.Tensor, linear: np.ndarray, translation: tuple[float, float, float]) -> torch.Tensor:
    depth, height, width = images.shape[2:]
    theta = normalised_affine(torch.tensor(linear, dtype=torch.float64)[None],
                              torch.tensor([translation], dtype=torch.float64), (width, height, depth)).float()
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def test_translation_by_whole_voxels_shifts_the_image() -> None:
    images = torch.rand(1, 1, 6, 7, 9)
    moved = _sample(images, np.eye(3), (2.0, 0.0, 0.0))          # x = W axis: out[w] = in[w + 2]
    assert torch.allclose(moved[..., :-2], images[..., 2:], atol=1e-5)
    assert torch.all(moved[..., -2:] == 0)
    moved = _sample(images, np.eye(3), (0.0, 0.0, -1.0))         # z = D axis: out[d] = in[d - 1]
    assert torch.allclose(moved[:, :, 1:], images[:, :, :-1], atol=1e-5)


def test_quarter_turn_about_z_on_an_anisotropic_grid_is_rot90() -> None:
    images = torch.rand(1, 1, 5, 8, 8)                           # D differs from H = W
    turn = rotation_matrices(torch.tensor([[0.0, 0.0, np.pi / 2]], dtype=torch.float64))[0].numpy()
    moved = _sample(images, turn, (0.0, 0.0, 0.0))
    expected = torch.rot90(images, k=1, dims=(3, 4))             # one of the two quarter turns in the H-W plane
    other = torch.rot90(images, k=-1, dims=(3, 4))
    assert torch.allclose(moved, expected, atol=1e-5) or torch.allclose(moved, other, atol=1e-5)
    assert torch.allclose(moved.sum(), images.sum(), rtol=1e-5)  # nothing left the field of view


def test_rotations_are_orthonormal() -> None:
    r = rotation_matrices(torch.rand(10, 3, dtype=torch.float64) * 6 - 3)
    assert torch.allclose(r @ r.transpose(1, 2), torch.eye(3, dtype=torch.float64).expand(10, 3, 3), atol=1e-12)
    assert torch.allclose(torch.linalg.det(r), torch.ones(10, dtype=torch.float64))


def test_legendre_basis_has_the_degree_three_terms() -> None:
    basis = legendre_basis((9, 11, 13))
    assert basis.shape == (20, 9, 11, 13)
    assert torch.all(basis[:, -1, -1, -1] == 1.0)                # P_n(1) = 1
    x = torch.linspace(-1, 1, 13)
    p3 = basis[1, 4, 5]                                          # i = j = 0, k = 1: P_1(x) along W
    assert torch.allclose(p3, x, atol=1e-6)
    assert torch.allclose(basis[3, 4, 5], (5 * x**3 - 3 * x) / 2 * 1.0, atol=1e-5)  # P_3(x); P(0) at centre


def test_nothing_fires_leaves_images_unchanged() -> None:
    images = torch.rand(3, 1, 6, 7, 8)
    out = ClassicAugmentation(AugmentationConfig(**OFF), (6, 7, 8), seed=0).batch(images)
    assert torch.equal(out, images)


def test_elastic_displacement_stays_within_its_magnitude() -> None:
    shape = (10, 12, 16)
    ramp = torch.linspace(-1, 1, shape[2]).expand(*shape).clone()   # intensity = normalised x coordinate
    images = ramp[None, None].repeat(4, 1, 1, 1, 1)
    magnitude = 0.05
    config = AugmentationConfig(**{**OFF, "elastic_prob": 1.0, "elastic_magnitude": magnitude})
    out = ClassicAugmentation(config, shape, seed=3).batch(images)
    inner = (slice(None), slice(None), slice(2, -2), slice(2, -2), slice(2, -2))
    shift = (out - images)[inner].abs()                           # = |x displacement| (normalised) inside
    assert 0.01 < float(shift.max()) <= magnitude + 1e-5


def test_noise_and_bias_field_have_their_sizes() -> None:
    shape = (12, 14, 16)
    images = torch.full((6, 1, *shape), 0.5)
    noisy = ClassicAugmentation(AugmentationConfig(**{**OFF, "noise_prob": 1.0, "noise_std": 0.02}), shape, seed=1)
    assert float((noisy.batch(images) - images).std()) == pytest.approx(0.02, rel=0.05)
    biased = ClassicAugmentation(AugmentationConfig(**{**OFF, "bias_field_prob": 1.0}), shape, seed=1).batch(images)
    ratio = biased / images
    assert torch.all(ratio > 0) and float(ratio.std()) > 1e-3
    assert float(ratio.max()) <= np.exp(20 * 0.1) and float(ratio.min()) >= np.exp(-20 * 0.1)
    flat = AugmentationConfig(**{**OFF, "bias_field_prob": 1.0, "bias_field_coeff_range": (0.0, 0.0)})
    assert torch.equal(ClassicAugmentation(flat, shape, seed=1).batch(images), images)


def test_same_seed_same_images_and_the_mask_keeps_unmarked_images() -> None:
    shape = (8, 9, 10)
    images = torch.rand(5, 1, *shape)
    config = AugmentationConfig(affine_prob=1.0, elastic_prob=1.0, bias_field_prob=1.0, noise_prob=1.0)
    first = ClassicAugmentation(config, shape, seed=7).batch(images)
    assert torch.equal(first, ClassicAugmentation(config, shape, seed=7).batch(images))
    assert not torch.equal(first, ClassicAugmentation(config, shape, seed=8).batch(images))
    mask = torch.tensor([True, False, True, False, False])
    masked = ClassicAugmentation(config, shape, seed=7).batch(images, mask)
    assert torch.equal(masked[~mask], images[~mask])
    assert torch.equal(masked[mask], ClassicAugmentation(config, shape, seed=7).batch(images[mask]))


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="3D"):
        ClassicAugmentation(AugmentationConfig(), (8, 9), seed=0)
    with pytest.raises(ValueError, match="bias_field_coeff_range"):
        ClassicAugmentation(AugmentationConfig(bias_field_coeff_range=(0.2, 0.1)), (8, 9, 10), seed=0)
    with pytest.raises(ValueError, match=r"\(8, 9, 10\)"):
        ClassicAugmentation(AugmentationConfig(), (8, 9, 10), seed=0).batch(torch.rand(2, 1, 8, 9, 11))
    with pytest.raises(ValueError, match="augmentation"):
        augmentation_from_params({"rotation": 0.1}, (8, 9, 10), seed=0)
    assert augmentation_from_params(False, (8, 9, 10), seed=0) is None
