"""Training loop: the loss falls, seeds, resume after a kill, time-based checkpoints, NaN guard,
the validation criterion, early stopping, final metric, curves; and the stage script's volume loader."""

import json

import pandas as pd
import pytest
import torch

from medaug.models.checkpoint import load_model, load_tensors
from medaug.models.networks import NetworkConfig
from medaug.models.rhvae import RHVAE, RHVAEConfig
from medaug.models.vae import VAE, VAEConfig, encode_dataset
from medaug.train import NonFiniteError, TrainingConfig, evaluate_elbo, train_model
from medaug.train import resume as resume_module
from medaug.train import trainer as trainer_module

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
    if kind == "residual_vae":  # has a buffer (the training mean) set by prepare_for_training
        network = NetworkConfig(**{**NET.to_dict(), "output_activation": "identity"})
        return VAE(VAEConfig(network=network, observation_std=0.1, residual_from_mean=True))
    return VAE(VAEConfig(network=NET, observation_std=0.1))


def _assert_same_state(first, second):
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), name


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


def _killed_at(epoch_to_kill, real_run_epoch, exception=KeyboardInterrupt):
    def run_epoch(model, optimizer, data, config, epoch, generator, device):
        if epoch == epoch_to_kill:
            raise exception
        return real_run_epoch(model, optimizer, data, config, epoch, generator, device)

    return run_epoch


def _count_prepare_calls(monkeypatch):
    calls = []
    real_prepare = VAE.prepare_for_training

    def prepare(self, data, linear_start=None):
        calls.append(data.shape[0])
        real_prepare(self, data, linear_start)

    monkeypatch.setattr(VAE, "prepare_for_training", prepare)
    return calls


@pytest.mark.parametrize("kind", ["rhvae", "residual_vae"])
def test_resume_after_a_kill_gives_the_uninterrupted_result(kind, tmp_path, monkeypatch):
    calls = _count_prepare_calls(monkeypatch)
    reference = _model(kind)
    train_model(reference, _data(), None, _config(max_epochs=4), tmp_path / "full")
    assert calls == [12]
    if kind == "residual_vae":
        assert torch.allclose(reference.data_mean, _data().mean(0))

    real_run_epoch = trainer_module._run_epoch
    monkeypatch.setattr(trainer_module, "_run_epoch", _killed_at(3, real_run_epoch))
    with pytest.raises(KeyboardInterrupt):  # the default checkpoint interval is far away: saved on the way out
        train_model(_model(kind), _data(), None, _config(max_epochs=4), tmp_path / "killed")
    monkeypatch.setattr(trainer_module, "_run_epoch", real_run_epoch)
    state = json.loads((tmp_path / "killed" / "training_state" / "state.json").read_text())
    assert state["epoch"] == 2 and len(state["trainer"]["history"]) == 2

    resumed = _model(kind)
    calls.clear()
    result = train_model(resumed, _data(), None, _config(max_epochs=4), tmp_path / "killed")
    assert calls == []  # the resumed run takes the training mean from the state
    assert result.epochs_run == 4 and [row["epoch"] for row in result.history] == [1, 2, 3, 4]
    _assert_same_state(reference, resumed)


class _EpochClock:
    """A fake checkpoint clock: the time (s) is the number of the epoch last started."""

    def __init__(self, monkeypatch, real_run_epoch):
        self.now = 0.0

        def run_epoch(model, optimizer, data, config, epoch, generator, device):
            self.now = float(epoch)
            return real_run_epoch(model, optimizer, data, config, epoch, generator, device)

        monkeypatch.setattr(trainer_module, "_run_epoch", run_epoch)
        monkeypatch.setattr(resume_module, "clock", lambda: self.now)


def _record_saves(monkeypatch):
    saved = []
    real_save = resume_module.save_training_state

    def save(directory, epoch, *args, **kwargs):
        saved.append(epoch)
        real_save(directory, epoch, *args, **kwargs)

    monkeypatch.setattr(resume_module, "save_training_state", save)
    return saved


def test_checkpoints_follow_the_clock_and_the_end_of_training(tmp_path, monkeypatch):
    _EpochClock(monkeypatch, trainer_module._run_epoch)
    saved = _record_saves(monkeypatch)
    train_model(_model(), _data(), None, _config(max_epochs=7, checkpoint_every_s=2.5), tmp_path)
    assert saved == [3, 6, 7]  # 2.5 s after the start, 2.5 s after that, and the end
    assert json.loads((tmp_path / "training_state" / "state.json").read_text())["epoch"] == 7


def test_default_interval_writes_the_state_and_the_figure_at_the_end_only(tmp_path, monkeypatch):
    saved = _record_saves(monkeypatch)
    drawn = []
    real_curves = trainer_module.write_training_curves

    def curves(history, tsv, png, best_epoch=None):
        drawn.append(png is not None)
        real_curves(history, tsv, png, best_epoch)

    monkeypatch.setattr(resume_module, "write_training_curves", curves)  # the checkpoints' table
    monkeypatch.setattr(trainer_module, "write_training_curves", curves)  # the end of training
    train_model(_model(), _data(), None, _config(max_epochs=3), tmp_path)
    assert saved == [3] and drawn == [False, True]  # state + table at the end, then table + figure
    assert (tmp_path / "training_curve.png").is_file()


def test_checkpoint_every_0_writes_after_every_epoch(tmp_path, monkeypatch):
    saved = _record_saves(monkeypatch)
    train_model(_model(), _data(), None, _config(max_epochs=3, checkpoint_every_s=0), tmp_path)
    assert saved == [1, 2, 3]
    assert len(pd.read_csv(tmp_path / "training_curve.tsv", sep="\t")) == 3


def test_hard_kill_resumes_from_the_last_timed_checkpoint(tmp_path, monkeypatch):
    reference = _model()
    train_model(reference, _data(), None, _config(max_epochs=7), tmp_path / "full")

    real_run_epoch = trainer_module._run_epoch
    _EpochClock(monkeypatch, _killed_at(5, real_run_epoch, SystemExit))
    monkeypatch.setattr(trainer_module, "save_last_good", lambda *args: None)  # a SIGKILL runs no handler
    with pytest.raises(SystemExit):
        train_model(_model(), _data(), None, _config(max_epochs=7, checkpoint_every_s=2.5), tmp_path / "killed")
    monkeypatch.undo()
    assert json.loads((tmp_path / "killed" / "training_state" / "state.json").read_text())["epoch"] == 3

    resumed = _model()
    result = train_model(resumed, _data(), None, _config(max_epochs=7, checkpoint_every_s=2.5), tmp_path / "killed")
    assert [row["epoch"] for row in result.history] == list(range(1, 8))
    _assert_same_state(reference, resumed)


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


def _saved_state(folder):
    """The tensors of a saved training state, "best/<name>" spelt out when stored as the model's."""
    document = json.loads((folder / "training_state" / "state.json").read_text())
    tensors = load_tensors(folder / "training_state" / document["tensor_file"])
    if document["best_is_model"]:
        tensors.update({"best/" + k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")})
    return tensors


def test_restart_restores_weights_and_optimiser_moments(tmp_path, monkeypatch):
    """Failing after the epoch's Adam steps or before any gives the same run: the restart undoes them."""
    real_run_epoch = trainer_module._run_epoch

    def run(after_steps, folder):
        failures = []

        def fails_once_at_epoch_2(model, optimizer, data, config, epoch, generator, device):
            if epoch == 2 and not failures:
                failures.append(epoch)
                if after_steps:
                    real_run_epoch(model, optimizer, data, config, epoch, generator, device)
                raise NonFiniteError(epoch, 3, "loss")
            return real_run_epoch(model, optimizer, data, config, epoch, generator, device)

        monkeypatch.setattr(trainer_module, "_run_epoch", fails_once_at_epoch_2)
        train_model(_model(), _data(), None, _config(max_epochs=3, nan_policy="restart", checkpoint_every_s=0), folder)
        return _saved_state(folder)

    before, after = run(False, tmp_path / "before"), run(True, tmp_path / "after")
    assert before.keys() == after.keys() and any(name.startswith("optimizer/") for name in before)
    for name, value in before.items():  # model, best model and Adam moments
        assert torch.equal(value, after[name]), name


def test_exhausted_restarts_save_the_last_completed_epoch(tmp_path, monkeypatch):
    reference_config = _config(max_epochs=2, nan_policy="restart", max_restarts=1)
    train_model(_model(), _data(), None, reference_config, tmp_path / "two")

    real_run_epoch = trainer_module._run_epoch

    def always_fails_at_epoch_3(model, optimizer, data, config, epoch, generator, device):
        if epoch == 3:
            real_run_epoch(model, optimizer, data, config, epoch, generator, device)
            raise NonFiniteError(epoch, 1, "loss")
        return real_run_epoch(model, optimizer, data, config, epoch, generator, device)

    monkeypatch.setattr(trainer_module, "_run_epoch", always_fails_at_epoch_3)
    with pytest.raises(NonFiniteError, match="epoch 3"):
        train_model(_model(), _data(), None, _config(max_epochs=5, nan_policy="restart", max_restarts=1), tmp_path / "nan")
    document = json.loads((tmp_path / "nan" / "training_state" / "state.json").read_text())
    assert document["epoch"] == 2 and document["trainer"]["restarts"] == 0
    saved, reference = _saved_state(tmp_path / "nan"), _saved_state(tmp_path / "two")
    assert saved.keys() == reference.keys()
    for name, value in saved.items():
        assert torch.equal(value, reference[name]), name


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


def test_validation_elbo_is_deterministic_and_leaves_the_rng_alone():
    model, val = _model("rhvae"), _data(4, seed=1)
    model.train()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    first = evaluate_elbo(model, val, 3, "cpu", seed=7)
    assert torch.equal(torch.rand(3), expected)  # the RNG state was restored
    assert model.training  # and the mode
    assert evaluate_elbo(model, val, 3, "cpu", seed=7) == first
    assert evaluate_elbo(model, val, 3, "cpu", seed=8) != first  # the seed is what fixes the noise
    with torch.no_grad():
        torch.manual_seed(7)
        model.eval()
        by_hand = torch.cat([model.vae_elbo(val[:3]).elbo, model.vae_elbo(val[3:]).elbo]).double().mean()
    assert first == pytest.approx(float(by_hand), rel=1e-6)


def test_validation_does_not_change_training(tmp_path):
    # every epoch counts as an improvement, so both runs keep their last epoch
    config = _config(max_epochs=3, min_improvement=-1e12)
    with_val, without_val = _model("rhvae"), _model("rhvae")
    val = _data(4, seed=1)
    result = train_model(with_val, _data(), val, config, tmp_path / "val")
    train_model(without_val, _data(), None, config, tmp_path / "none")
    _assert_same_state(with_val, without_val)
    assert result.monitored == "val" and result.best_epoch == 3
    seed = trainer_module.validation_seed(config.seed)
    assert result.history[-1]["val_elbo"] == pytest.approx(evaluate_elbo(with_val, val, config.eval_batch_size, "cpu", seed), rel=1e-9)


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


def test_warmup_epochs_train_the_vae_bound_and_are_not_kept(tmp_path):
    """Warm-up epochs optimise model.vae_elbo, are flagged in the history and never chosen as best."""
    from medaug.models.networks import NetworkConfig
    from medaug.models.rhvae import RHVAE, RHVAEConfig
    from medaug.train import TrainingConfig, train_model

    torch.manual_seed(0)
    network = NetworkConfig(spatial_dims=2, spatial_shape=(8, 8), channels=(4,), strides=(2,), latent_size=2,
                            metric_hidden_size=4, output_activation="identity")
    model = RHVAE(RHVAEConfig(network=network, residual_from_mean=True, observation_std=0.5))
    calls = {"vae_elbo": 0, "forward": 0}
    original_vae_elbo, original_forward = model.vae_elbo, model.forward

    def counting_vae_elbo(x):
        calls["vae_elbo"] += 1
        return original_vae_elbo(x)

    def counting_forward(x):
        calls["forward"] += 1
        return original_forward(x)

    model.vae_elbo, model.forward = counting_vae_elbo, counting_forward
    data = torch.rand(8, 1, 8, 8)
    config = TrainingConfig(batch_size=4, max_epochs=4, warmup_epochs=2, patience=10, progress=False, device="cpu")
    result = train_model(model, data, None, config, tmp_path / "out")
    assert [row["warmup"] for row in result.history] == [1, 1, 0, 0]
    assert result.best_epoch > 2
    assert calls["forward"] == 2 * 2  # two RHVAE epochs of two batches; warm-up used the VAE bound only
    assert calls["vae_elbo"] >= 2 * 2
    assert "train_kl" in result.history[0] and "train_log_velocity_final" in result.history[-1]


def test_warmup_must_leave_epochs_for_the_model_objective():
    from medaug.train import TrainingConfig

    with pytest.raises(ValueError, match="warmup_epochs"):
        TrainingConfig(max_epochs=3, warmup_epochs=3)
