"""2D mode: the quick check end to end (train, sample, decode, figures), the sampler choice, the CLI."""

import copy
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from medaug.cli import main as cli_main
from medaug.slicecheck.check import choose_sampler, mean_pairwise_rms, run_slice_check

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _volumes(n=12, seed=0):
    return torch.rand(n, 1, 8, 10, 9, generator=torch.Generator().manual_seed(seed))


@pytest.fixture()
def small_params(repo_params):
    """params.yaml's train_vae and sample sections, shrunk to tiny networks, 2 epochs and short chains."""
    train = copy.deepcopy(repo_params["train_vae"])
    train["network"].update(channels=[4, 8], strides=[2, 2], latent_size=2, metric_hidden_size=8, metric_channels=None)
    train["training"].update(batch_size=4, max_epochs=2, warmup_epochs=1, progress=False, device="cpu")
    sample = copy.deepcopy(repo_params["sample"])
    sample.update(n=6, decode_batch_size=4)
    sample["samplers"]["rhvae_hmc"].update(n_steps=4, n_leapfrog=3, adapt_steps=2, batch_size=6)
    return train, sample


def test_mean_pairwise_rms():
    images = np.stack([np.zeros((2, 2)), np.ones((2, 2)), 3 * np.ones((2, 2))])
    assert mean_pairwise_rms(images) == pytest.approx((1 + 3 + 2) / 3)
    with pytest.raises(ValueError, match="at least 2"):
        mean_pairwise_rms(images[:1])


def _finite_numbers(tree):
    if isinstance(tree, dict):
        return all(_finite_numbers(v) for v in tree.values())
    if isinstance(tree, float):
        return math.isfinite(tree)
    return True


@pytest.mark.parametrize("model, sampler", [("rhvae", "rhvae_hmc"), ("vae", "prior")])
def test_quick_check_runs_end_to_end(model, sampler, small_params, tmp_path):
    train_params, sample_params = small_params
    result = run_slice_check(_volumes(), "AD", train_params, sample_params, tmp_path, model_name=model,
                             val_volumes=_volumes(3, seed=1))
    assert result.montage.read_bytes()[:8] == PNG_MAGIC
    figures = json.loads(result.summary.read_text())
    assert figures == json.loads(json.dumps(result.figures))
    assert figures["model"] == model and figures["sampler"] == sampler  # a plain VAE falls back to the prior
    assert figures["slice_shape"] == [8, 10] and figures["index"] == 4 and figures["n_samples"] == 6
    assert figures["training"]["epochs_run"] == 2 and figures["training"]["monitored"] == "val"
    assert set(figures["mean_pairwise_rms"]) == {"real", "pca", "reconstruction", "synthetic"}
    assert set(figures["reconstruction_rmse"]) == {"pca", "model"}
    assert _finite_numbers(figures)
    assert figures["pca_rank"] == 2 and figures["mean_pairwise_rms"]["real"] > figures["mean_pairwise_rms"]["pca"]
    assert (figures["acceptance_rate"] is None) == (sampler == "prior")
    assert (tmp_path / "train" / "model" / "model.json").is_file()


def test_choose_sampler_keeps_a_fitting_one_and_falls_back_otherwise(small_params):
    from medaug.slicecheck.check import build_slice_model

    train_params, _ = small_params
    fixed = {**train_params, "rhvae": {**train_params["rhvae"], "metric_temperature": 1.5, "observation_std": 0.1,
                                       "leapfrog_step_size": 1e-4}}  # run_slice_check resolves auto
    vae, rhvae = build_slice_model("vae", fixed, (8, 10)), build_slice_model("rhvae", fixed, (8, 10))
    assert choose_sampler("rhvae_hmc", rhvae) == "rhvae_hmc" and choose_sampler("gmm", vae) == "gmm"
    assert choose_sampler("rhvae_hmc", vae) == "prior"
    with pytest.raises(ValueError, match="unknown model"):
        build_slice_model("gan", train_params, (8, 10))


def test_cli_slices_reads_the_stack_and_split(small_params, tmp_path, monkeypatch, capsys):
    train_params, sample_params = small_params
    volumes = _volumes(8)[:, 0].numpy()
    ids = [f"sub-{i}" for i in range(8)]
    np.save(tmp_path / "stack.npy", volumes)
    pd.DataFrame({"participant_id": ids, "session_id": "ses-M000", "row": range(8)}).to_csv(tmp_path / "stack.tsv", sep="\t", index=False)
    (tmp_path / "stack.json").write_text(json.dumps({"shape": [8, 10, 9]}))
    diagnosis = ["AD", "CN"] * 4
    pd.DataFrame({"participant_id": ids[:6], "session_id": "ses-M000", "diagnosis": diagnosis[:6]}).to_csv(
        tmp_path / "train.tsv", sep="\t", index=False)
    pd.DataFrame({"participant_id": ids[6:], "session_id": "ses-M000", "diagnosis": diagnosis[6:]}).to_csv(
        tmp_path / "validation.tsv", sep="\t", index=False)
    train_params.update(stack=str(tmp_path / "stack"), splits_dir=str(tmp_path), train_split="train",
                        validation_split="validation", threads=1)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"train_vae": train_params, "sample": sample_params}))
    code = cli_main(["slices", "--params", str(tmp_path / "params.yaml"), "--label", "AD", "--out-dir",
                     str(tmp_path / "out"), "--axis", "0", "--index", "3", "--epochs", "1", "--model", "vae", "--n", "3"])
    assert code == 0
    figures = json.loads((tmp_path / "out" / "diversity.json").read_text())
    assert figures["n_train"] == 3 and figures["n_validation"] == 1 and figures["index"] == 3
    assert figures["slice_shape"] == [10, 9] and figures["training"]["epochs_run"] == 1
    assert "wrote" in capsys.readouterr().out
    assert cli_main(["slices", "--params", str(tmp_path / "params.yaml"), "--label", "MCI", "--out-dir",
                     str(tmp_path / "none")]) == 2
