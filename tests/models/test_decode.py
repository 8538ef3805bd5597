"""medaug.models.decode: latent codes decoded batch by batch into (b, D, H, W) volumes in [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from medaug.models.decode import decoded_batches


class _Affine(nn.Module):
    """decode(z) = a * z[:, 0] + b everywhere on a (1, 2, 3) grid; records the batches and its mode."""

    def __init__(self, a: float = 1.0, b: float = 0.0, channels: int = 1) -> None:
        super().__init__()
        self.a, self.b, self.channels = a, b, channels
        self.seen: list[tuple[int, bool, torch.dtype]] = []

    def decode(self, z):
        self.seen.append((z.shape[0], self.training, z.dtype))
        return (self.a * z[:, 0] + self.b)[:, None, None, None].expand(-1, self.channels, 2, 3).clone()


def test_batches_keep_the_order_drop_the_channel_and_clip_to_the_unit_range():
    latents = torch.tensor([[-1.0], [0.25], [0.5], [2.0], [0.75]], dtype=torch.float64)
    model = _Affine()
    batches = list(decoded_batches(model, latents, batch_size=2))
    assert [b.shape for b in batches] == [(2, 2, 3), (2, 2, 3), (1, 2, 3)]
    assert all(b.dtype == np.float32 for b in batches)
    values = np.concatenate(batches)[:, 0, 0]
    np.testing.assert_array_equal(values, [0.0, 0.25, 0.5, 1.0, 0.75])
    assert [dtype for _, _, dtype in model.seen] == [torch.float32] * 3  # codes decoded in float32


def test_the_model_decodes_in_eval_mode_and_gets_its_mode_back():
    model = _Affine().train()
    list(decoded_batches(model, torch.zeros(3, 1), batch_size=5))
    assert model.seen == [(3, False, torch.float32)] and model.training
    model.eval()
    list(decoded_batches(model, torch.zeros(1, 1), batch_size=5))
    assert not model.training


def test_non_finite_values_name_the_codes_and_restore_the_mode():
    model = _Affine(a=float("inf")).train()
    latents = torch.tensor([[0.0], [0.0], [1.0]])   # inf * 0 = nan in the first batch already
    with pytest.raises(ValueError, match=r"non-finite values for latent codes 0\.\.1"):
        list(decoded_batches(model, latents, batch_size=2))
    assert model.training
    finite_first = _Affine(a=1.0)
    finite_first.decode = lambda z: torch.where(z[:, :1] > 0.5, torch.nan, 0.5)[:, :, None, None].expand(-1, 1, 2, 3).clone()
    with pytest.raises(ValueError, match=r"latent codes 2\.\.2"):
        list(decoded_batches(finite_first, latents, batch_size=2))


def test_more_than_one_channel_or_a_bad_batch_size_is_refused():
    with pytest.raises(ValueError, match=r"expected decoded volumes \(b, 1, \*S\), got \(2, 3, 2, 3\)"):
        list(decoded_batches(_Affine(channels=3), torch.zeros(2, 1), batch_size=2))
    with pytest.raises(ValueError, match="batch_size must be positive, got 0"):
        list(decoded_batches(_Affine(), torch.zeros(2, 1), batch_size=0))


def test_no_codes_give_no_batches():
    assert list(decoded_batches(_Affine(), torch.zeros(0, 1), batch_size=4)) == []
