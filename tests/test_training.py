"""Training loop: the loss falls, seeds, resume after a kill, NaN guard, early stopping, final
metric, curves; and the stage script's volume loader."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from medaug.models.checkpoint import load_model
from medaug.models.networks import NetworkConfig
from medaug.models.rhvae import RHVAE, RHVAEConfig
from medaug.models.vae import VAE, VAEConfig, encode_dataset
from medaug.train import NonFiniteError, TrainingConfig, train_model
from medaug.train import trainer as trainer_module

torch.set_num_threads(1)

NET = NetworkConfig(spatial_dims=2, spatial_shape=(16, 16), channels=(4, 8), strides=(2, 2), latent_size=2, metric_hidden_size=8)


def _data(n=12, seed=0):
    """Blobs at random positions: a data set a tiny VAE can learn something about."""
    generator = torch.Generator().manual_seed(seed)
    grid = torch.stack(torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij"))
    centres = 4 + 8 * torch.rand(n, 2, 1, 1, generator=generator)
    return torch.exp(-((grid[None] - centres) ** 2).sum(1, keepdim=True) / 8.0)


def _model(kind="vae", **kwargs):
    torch.manual_seed(0)
    if kind == "rhvae":
        return RHVAE(RHVAEConfig(network=NET, observation_std=0.1, **kwargs))
    return VAE(VAEConfig(network=NET, observation_std=0.1))


def _config(**kwargs):
    values = dict(learning_rate=3e-3, batch_size=4, max_epochs=6, patience=50, progress=False, eval_batch_size=8)
    return TrainingConfig(**{**values, **kwargs})


@pytest.mark.parametrize("kind", ["vae", "rhvae"])
def test_loss_falls_on_a_tiny_data_set(kind, tmp_path):
    result = train_model(_model(kind), _data(), None, _config(max_epochs=8), tmp_path)
    elbos = [row["train_elbo"] for row in result.history]
    assert len(elbos) == 8 and elbos[-1] > elbos[0] + 5.0  # nats per sample
    assert result.monitored == "train" and result.stop_reason == "max_epochs"


def test_same_seed_same_weights_after_training(tmp_path):
    first, second = _model("rhvae"), _model("rhvae")
    train_model(first, _data(), _data(4, seed=1), _config(max_epochs=3), tmp_path / "a")
    train_model(second, _data(), _data(4, seed=1), _config(max_epochs=3), tmp_path / "b")
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), name


def test_resume_after_a_kill_gives_the_uninterrupted_result(tmp_path, monkeypatch):
    reference = _model("rhvae")
    train_model(reference, _data(), None, _config(max_epochs=4), tmp_path / "full")

    real_run_epoch = trainer_module._run_epoch

    def killed_at_epoch_3(model, optimizer, data, config, epoch, generator, device):
        if epoch == 3:
            raise KeyboardInterrupt
        return real_run_epoch(model, optimizer, data, config, epoch, generator, device)

    monkeypatch.setattr(trainer_module, "_run_epoch", killed_at_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        train_model(_model("rhvae"), _data(), None, _config(max_epochs=4), tmp_path / "killed")
    monkeypatch.setattr(trainer_module, "_run_epoch", real_run_epoch)
    state = json.loads((tmp_path / "killed" / "training_state" / "state.json").read_text())
    assert state["epoch"] == 2

    resumed = _model("rhvae")
    result = train_model(resumed, _data(), None, _config(max_epochs=4), tmp_path / "killed")
    assert result.epochs_run == 4 and [row["epoch"] for row in result.history] == [1, 2, 3, 4]
    for (name, a), (_, b) in zip(reference.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name


def test_a_different_config_does_not_resume_a_stale_state(tmp_path):
    train_model(_model(), _data(), None, _config(max_epochs=2), tmp_path)
    result = train_model(_model(), _data(), None, _config(max_epochs=2, learning_rate=1e-3), tmp_path)
    assert [row["epoch"] for row in result.history] == [1, 2]
    assert result.history[0]["learning_rate"] == 1e-3


def _poison_decoder(model):
    with torch.no_grad():
        next(model.decoder.parameters()).fill_(float("nan"))


def test_nan_guard_stops_with_epoch_batch_and_term(tmp_path):
    model = _model()
    _poison_decoder(model)
    with pytest.raises(NonFiniteError, match=r"ELBO term 'reconstruction' at epoch 1, batch 1"):
        train_model(model, _data(), None, _config(), tmp_path)


def test_nan_guard_restarts_from_the_last_good_state_with_a_lower_rate(tmp_path, monkeypatch):
    real_run_epoch = trainer_module._run_epoch
    failures = []

    def fails_once_at_epoch_2(model, optimizer, data, config, epoch, generator, device):
        if epoch == 2 and not failures:
            failures.append(epoch)
            raise NonFiniteError(epoch, 3, "gradient of decoder.linear.weight")
        return real_run_epoch(model, optimizer, data, config, epoch, generator, device)

    monkeypatch.setattr(trainer_module, "_run_epoch", fails_once_at_epoch_2)
    result = train_model(_model(), _data(), None, _config(max_epochs=3, nan_policy="restart", restart_lr_factor=0.25), tmp_path)
    assert result.restarts == 1 and result.epochs_run == 3
    assert [row["learning_rate"] for row in result.history] == [3e-3, 3e-3 * 0.25, 3e-3 * 0.25]


def test_early_stopping_restores_the_best_epoch(tmp_path):
    # an absurd min_improvement means only epoch 1 ever counts as an improvement
    config = _config(max_epochs=10, patience=2, min_improvement=1e12)
    model = _model()
    result = train_model(model, _data(), _data(4, seed=1), config, tmp_path / "stopped")
    assert result.stop_reason == "patience" and result.best_epoch == 1 and result.epochs_run == 3
    assert result.monitored == "val"
    one_epoch = _model()
    train_model(one_epoch, _data(), _data(4, seed=1), _config(max_epochs=1), tmp_path / "one")
    for (name, a), (_, b) in zip(one_epoch.state_dict().items(), model.state_dict().items()):
        assert torch.equal(a, b), name


def test_rhvae_metric_is_rebuilt_from_the_whole_training_set_with_the_best_encoder(tmp_path):
    data = _data(10)
    model = _model("rhvae")
    train_model(model, data, _data(4, seed=1), _config(max_epochs=3, batch_size=3), tmp_path)
    means, _, factors = encode_dataset(model, data, 10, with_metric_network=True)
    assert model.metric.num_centroids == 10
    assert torch.allclose(model.metric.centroids, means) and torch.allclose(model.metric.cholesky, factors)
    saved = load_model(tmp_path / "model")
    assert torch.equal(saved.metric.centroids, model.metric.centroids)


def test_training_curves_are_written(tmp_path):
    result = train_model(_model(), _data(), _data(4, seed=1), _config(max_epochs=3), tmp_path)
    table = pd.read_csv(tmp_path / "training_curve.tsv", sep="\t")
    assert list(table["epoch"]) == [1, 2, 3] and {"train_elbo", "val_elbo", "train_kl"} <= set(table.columns)
    assert (tmp_path / "training_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    extra = json.loads((tmp_path / "model" / "model.json").read_text())["extra"]
    assert extra["training"]["best_epoch"] == result.best_epoch


def test_stage_loader_keeps_one_label_of_one_split(tmp_path):
    from pipelines.train_vae import load_label_volumes

    stack = np.arange(4 * 2 * 3 * 2, dtype=np.float32).reshape(4, 2, 3, 2)
    np.save(tmp_path / "stack.npy", stack)
    index = pd.DataFrame({"participant_id": ["sub-1", "sub-2", "sub-3", "sub-4"], "session_id": ["ses-M000"] * 4, "row": range(4)})
    index.to_csv(tmp_path / "stack.tsv", sep="\t", index=False)
    (tmp_path / "stack.json").write_text(json.dumps({"shape": [2, 3, 2]}))
    split = pd.DataFrame({"participant_id": ["sub-4", "sub-2", "sub-3"], "session_id": ["ses-M000"] * 3, "diagnosis": ["AD", "CN", "AD"]})
    split.to_csv(tmp_path / "train.tsv", sep="\t", index=False)
    volumes, rows = load_label_volumes(tmp_path / "stack", tmp_path / "train.tsv", "AD")
    assert volumes.shape == (2, 1, 2, 3, 2) and volumes.dtype == torch.float32
    assert torch.equal(volumes[:, 0], torch.from_numpy(stack[[3, 2]]))
    assert list(rows["participant_id"]) == ["sub-4", "sub-3"]
    split.loc[0, "participant_id"] = "sub-9"
    split.to_csv(tmp_path / "train.tsv", sep="\t", index=False)
    with pytest.raises(ValueError, match="no volume for 1 sessions"):
        load_label_volumes(tmp_path / "stack", tmp_path / "train.tsv", "AD")
