"""Checkpoints (medaug.models.checkpoint): save / load round trip, and the checks of model.json."""

import json

import pytest
import torch

from medaug.models.checkpoint import CheckpointError, load_model, save_model
from tests.models.test_vae import NET_2D, _fitted


@pytest.mark.parametrize("kind", ["vae", "rhvae", "geometric_vae"])
def test_save_load_round_trip_gives_identical_outputs(kind, tmp_path):
    model = _fitted(kind)
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert type(loaded) is type(model) and loaded.config == model.config
    x = torch.rand(3, *NET_2D.in_shape)
    with torch.no_grad():
        torch.manual_seed(5)
        expected = model(x)
        torch.manual_seed(5)
        got = loaded(x)
    assert torch.equal(expected.elbo, got.elbo) and torch.equal(expected.reconstruction, got.reconstruction)
    if kind != "vae":
        z = torch.randn(4, NET_2D.latent_size)
        assert torch.equal(model.metric.metric(z), loaded.metric.metric(z))


def test_loading_checks_the_config(tmp_path):
    save_model(_fitted("rhvae"), tmp_path / "m")
    document = json.loads((tmp_path / "m" / "model.json").read_text())

    def write(doc):
        (tmp_path / "m" / "model.json").write_text(json.dumps(doc))

    write({**document, "model_type": "gan"})
    with pytest.raises(CheckpointError, match="unknown model_type"):
        load_model(tmp_path / "m")
    write({**document, "config": {**document["config"], "n_leapfrogs": 3}})
    with pytest.raises(CheckpointError, match=r"unknown key\(s\) \['n_leapfrogs'\]"):
        load_model(tmp_path / "m")
    network = {**document["config"]["network"], "latent_size": 5}
    write({**document, "config": {**document["config"], "network": network}})
    with pytest.raises(CheckpointError, match="has shape"):
        load_model(tmp_path / "m")
    write({**document, "format_version": 99})
    with pytest.raises(CheckpointError, match="format_version"):
        load_model(tmp_path / "m")
