"""The generative models by name (medaug.models.registry)."""

from __future__ import annotations

import pytest
import torch

from medaug.models.geometric_vae import GeometricVAE
from medaug.models.registry import MODEL_CLASSES, build_model
from medaug.models.rhvae import RHVAE
from medaug.models.vae import VAE

TRAIN = {"network": {"channels": [4, 8], "strides": [2, 2], "latent_size": 3, "metric_hidden_size": 8},
         "rhvae": {"n_leapfrog": 2}}


def test_every_model_is_registered_under_its_model_type():
    assert MODEL_CLASSES == {"vae": VAE, "rhvae": RHVAE, "geometric_vae": GeometricVAE}
    assert all(cls.model_type == name for name, cls in MODEL_CLASSES.items())


@pytest.mark.parametrize("name", sorted(MODEL_CLASSES))
@pytest.mark.parametrize("shape", [(16, 16), (12, 14, 12)], ids=["2d", "3d"])
def test_build_model_sizes_the_network_for_the_volumes(name, shape):
    model = build_model(name, TRAIN, shape)
    assert type(model) is MODEL_CLASSES[name]
    network = model.config.network
    assert network.spatial_dims == len(shape) and tuple(network.spatial_shape) == shape
    assert network.latent_size == 3
    out = model(torch.rand(2, 1, *shape))
    assert out.reconstruction.shape == (2, 1, *shape)


def test_the_model_section_of_the_parameters_reaches_the_model_config():
    assert build_model("rhvae", TRAIN, (16, 16)).config.n_leapfrog == 2
    default = build_model("rhvae", {"network": TRAIN["network"]}, (16, 16)).config.n_leapfrog
    assert build_model("rhvae", {**TRAIN, "rhvae": {"n_leapfrog": default + 4}}, (16, 16)).config.n_leapfrog == default + 4


def test_an_unknown_model_name_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown model 'gan' \(known: \['geometric_vae', 'rhvae', 'vae'\]\)"):
        build_model("gan", TRAIN, (16, 16))
