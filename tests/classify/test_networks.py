"""Conv5_FC3 (Wen et al. 2020): layer sizes, flatten size from the input shape, the A2 scaling."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from medaug.classify.networks import (
    Conv5FC3,
    Conv5FC3Config,
    build_classifier,
    classifier_config,
    flatten_size,
    scaled_fc_features,
)


def test_reference_flatten_sizes() -> None:
    wen = (8, 16, 32, 64, 128)
    # 169x208x179 -> 85x104x90 -> 43x52x45 -> 22x26x23 -> 11x13x12 -> 6x7x6 (pooling rounds up)
    assert flatten_size((169, 208, 179), wen) == 128 * 6 * 7 * 6
    assert flatten_size((84, 104, 89), wen) == 128 * 3 * 4 * 3
    assert flatten_size((42, 52, 44), (4, 8, 16, 32), input_pooling=2) == 32 * 2 * 2 * 2


def test_downsampled_variant_keeps_layer_ratios() -> None:
    config = classifier_config("baseline-downsampled", (84, 104, 89))
    assert config.fc_features == scaled_fc_features((84, 104, 89), config.channels, (1300, 50)) == (186, 7)
    assert classifier_config("baseline-downsampled", (169, 208, 179)).fc_features == (1300, 50)
    assert classifier_config("baseline", (84, 104, 89)).fc_features == (1300, 50)


def test_baseline_layers_follow_the_paper() -> None:
    model = build_classifier("baseline", (169, 208, 179))
    convs = [m for m in model.features if isinstance(m, nn.Conv3d)]
    assert [c.out_channels for c in convs] == [8, 16, 32, 64, 128]
    assert all(c.kernel_size == (3, 3, 3) and c.padding == (1, 1, 1) for c in convs)
    assert sum(isinstance(m, nn.BatchNorm3d) for m in model.features) == 5
    assert sum(isinstance(m, nn.MaxPool3d) for m in model.features) == 5
    head = list(model.classifier)
    linears = [m for m in head if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(32256, 1300), (1300, 50), (50, 2)]
    assert isinstance(head[1], nn.Dropout) and head[1].p == 0.5
    # a LeakyReLU after every linear layer but the last
    assert [type(m).__name__ for m in head[2:]] == ["Linear", "LeakyReLU", "Linear", "LeakyReLU", "Linear"]


@pytest.mark.parametrize("name", ["baseline", "baseline-downsampled", "small"])
def test_forward_on_tiny_volumes(name: str) -> None:
    torch.manual_seed(0)
    model = build_classifier(name, (16, 20, 16)).eval()
    logits = model(torch.rand(3, 1, 16, 20, 16))
    assert logits.shape == (3, 2) and torch.isfinite(logits).all()


def test_wrong_input_shape_is_named() -> None:
    model = build_classifier("small", (16, 20, 16))
    with pytest.raises(ValueError, match=r"\(16, 20, 16\)"):
        model(torch.rand(1, 1, 16, 20, 18))


def test_config_roundtrip_and_validation() -> None:
    config = classifier_config("small", (16, 20, 16), dropout=0.2)
    assert Conv5FC3Config.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown"):
        Conv5FC3Config.from_dict({**config.to_dict(), "bogus": 1})
    with pytest.raises(ValueError, match="unknown classifier"):
        build_classifier("resnet", (16, 20, 16))
    with pytest.raises(ValueError, match="spatial_dims"):
        Conv5FC3(Conv5FC3Config(in_shape=(16, 20)))
