"""medaug.train.stage: the train_vae stage on a small two-label stack, with components shared by the labels."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest

from medaug.preprocess.model_ready import write_stack
from medaug.train.stage import run

SHAPE = (8, 8, 8)


def _stack(tmp_path, n_per_label=14, seed=0):
    """Two labels that share their variation (three smooth patterns) and differ in their means."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*(np.linspace(-1, 1, s) for s in SHAPE), indexing="ij"))
    patterns = np.stack([np.exp(-((grid - c[:, None, None, None]) ** 2).sum(0) / 0.3)
                         for c in rng.uniform(-0.6, 0.6, (3, 3))])
    rows, volumes = [], []
    for label, offset in (("CN", 0.3), ("AD", 0.4)):
        for i in range(n_per_label):
            code = rng.standard_normal(3)
            volumes.append((offset + 0.1 * np.tensordot(code, patterns, 1)
                            + 0.01 * rng.standard_normal(SHAPE)).astype(np.float32))
            rows.append({"participant_id": f"sub-{label}{i:02d}", "session_id": "ses-M000", "diagnosis": label})
    table = pd.DataFrame(rows)
    write_stack(tmp_path / "stack", volumes, table[["participant_id", "session_id"]], {"shape": list(SHAPE)})
    validation = table.groupby("diagnosis").head(4)
    table.drop(validation.index).to_csv(tmp_path / "train.tsv", sep="\t", index=False)
    validation.to_csv(tmp_path / "validation.tsv", sep="\t", index=False)


@pytest.fixture()
def stage_params(repo_params, tmp_path):
    params = copy.deepcopy(repo_params["train_vae"])
    params.update(stack=str(tmp_path / "stack"), splits_dir=str(tmp_path), out_dir=str(tmp_path / "models"),
                  state_dir=str(tmp_path / "state"), metrics_dir=str(tmp_path / "metrics"), threads=1)
    params["network"].update(channels=[4, 8], strides=[2, 2], metric_hidden_size=8, metric_channels=None)
    params["latent_size_selection"]["candidates"] = [1, 3, 6]
    params["observation_std_selection"]["candidates"] = [0.005, 0.01, 0.05]
    params["training"].update(batch_size=5, max_epochs=2, warmup_epochs=1, progress=False, device="cpu")
    return params


def test_shared_components_start_from_the_pooled_fit_and_report_every_bound(stage_params, tmp_path):
    _stack(tmp_path)
    metrics = run({**stage_params, "linear_path_components": "shared"}, "CN")
    chosen, bounds = metrics["chosen_settings"], metrics["validation_bounds"]
    assert chosen["linear_path_components"] == "shared" and chosen["shared_with_volumes"] == 10
    assert (metrics["latent_size"], chosen["observation_std"]) == (3, 0.01)     # the planted rank and noise
    assert chosen["leapfrog_step_size"] == pytest.approx(1e-3 * 0.01)
    assert set(bounds) >= {"start", "kept", "networks_zeroed", "label_ppca", "kept_beats_label_ppca"}
    assert bounds["kept"] >= bounds["start"] == pytest.approx(bounds["networks_zeroed"], abs=1.0)
    written = json.loads((tmp_path / "metrics" / "CN.json").read_text())
    assert written["validation_bounds"] == bounds
    model_json = json.loads((tmp_path / "models" / "CN" / "model" / "model.json").read_text())
    assert "auto" not in json.dumps(model_json)


def test_label_components_ignore_the_other_label(stage_params, tmp_path):
    _stack(tmp_path)
    metrics = run({**stage_params, "linear_path_components": "label"}, "AD")
    assert "linear_path_components" not in metrics["chosen_settings"]
    assert metrics["validation_bounds"]["start"] == pytest.approx(metrics["validation_bounds"]["label_ppca"], abs=1.0)
