"""The ``sample`` stage: latent samplers by name, streamed decoding, the synthetic cohort on disk."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from medaug.models.checkpoint import CheckpointError, save_model
from medaug.models.geometric_vae import GeometricVAE, GeometricVAEConfig
from medaug.models.networks import NetworkConfig
from medaug.models.rhvae import RHVAE, RHVAEConfig
from medaug.models.vae import VAE, VAEConfig
from medaug.preprocess.model_ready import write_stack
from medaug.sampling.factory import SamplerError
from medaug.models.decode import decoded_batches
from medaug.runtime import derived_seed
from medaug.sampling.synthesize import file_sha256, write_synthetic_volumes
from medaug.synthetic import read_synthetic, synthetic_participant_id
from pipelines import sample as stage

SHAPE = (12, 14, 12)
NET = NetworkConfig(spatial_dims=3, spatial_shape=SHAPE, channels=(4, 8), strides=(2, 2), latent_size=3, metric_hidden_size=8)
AFFINE = np.array([[4.0, 0, 0, -80.0], [0, 4.0, 0, -110.0], [0, 0, 4.0, -60.0], [0, 0, 0, 1.0]])
N_REAL = 6
FAST_MCMC = {
    "rhvae_hmc": {"n_steps": 5, "n_leapfrog": 3, "step_size": 0.05, "batch_size": 4},
    "random_walk": {"n_steps": 5, "proposal_std": 0.1, "n_integration_steps": 3, "batch_size": 4},
    "geometric_hmc": {"n_steps": 5, "n_leapfrog": 3, "step_size": 0.05, "batch_size": 4},
    "prior": {},
    "gmm": {"n_components": 2},
}


def _volumes(n: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand((n, 1, *SHAPE), generator=generator)


def _model(kind: str, seed: int = 0):
    torch.manual_seed(seed)
    if kind == "rhvae":
        model = RHVAE(RHVAEConfig(network=NET))
    elif kind == "geometric_vae":
        model = GeometricVAE(GeometricVAEConfig(network=NET))
    else:
        model = VAE(VAEConfig(network=NET))
    model.fit_metric(_volumes(N_REAL, seed + 1), batch_size=4)
    return model.eval()


@pytest.fixture(scope="module")
def models():
    return {kind: _model(kind) for kind in ("rhvae", "geometric_vae", "vae")}


def _project(root: Path, trained, n: int = 7, sampler: str = "rhvae_hmc", **overrides) -> Path:
    """A checkpoint, a model-ready stack, a split and a params file under ``root``; returns the params path."""
    save_model(trained, root / "models" / "AD" / "model")
    volumes = [v[0].numpy() for v in _volumes(N_REAL, 7)]
    index = pd.DataFrame({"participant_id": [f"sub-{i:02d}" for i in range(N_REAL)], "session_id": "ses-M000"})
    write_stack(root / "pre" / "model_ready", volumes, index, {"affine": AFFINE.tolist(), "shape": list(SHAPE)})
    split = index.assign(diagnosis=["AD", "CN"] * (N_REAL // 2))
    (root / "splits").mkdir()
    split.to_csv(root / "splits" / "train.tsv", sep="\t", index=False)
    section = {
        "model": str(root / "models" / "{label}" / "model"),
        "stack": str(root / "pre" / "model_ready"),
        "train_split": str(root / "splits" / "train.tsv"),
        "out_dir": str(root / "synthetic"),
        "metrics_dir": str(root / "metrics"),
        "n": n,
        "seed": 11,
        "sampler": sampler,
        "decode_batch_size": 3,
        "write_nifti": True,
        "montage_volumes": 2,
        "device": "cpu",
        "threads": 1,
        "sampler_threads": 1,
        "progress": False,
        "samplers": FAST_MCMC,
    }
    section.update(overrides)
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump({"sample": section}))
    return path


def _run(params: Path, *extra: str) -> None:
    stage.main(["--label", "AD", "--params", str(params), *extra])


def test_stage_writes_a_synthetic_cohort_the_classifier_reads(tmp_path, models):
    params = _project(tmp_path, models["rhvae"], n=7)
    _run(params)
    out = tmp_path / "synthetic" / "AD"
    stack = np.load(out / "samples.npy")
    assert stack.dtype == np.float32 and stack.shape == (7, *SHAPE)
    assert stack.min() >= 0.0 and stack.max() <= 1.0 and np.isfinite(stack).all()
    assert len({stack[i].tobytes() for i in range(7)}) > 1  # chains that never move may repeat a centroid

    table = pd.read_csv(out / "samples.tsv", sep="\t")
    assert list(table["participant_id"]) == [f"syn-AD-{i:06d}" for i in range(7)]
    assert set(table["diagnosis"]) == {"AD"} and set(table["sampler"]) == {"rhvae_hmc"} and set(table["model"]) == {"rhvae"}
    assert set(table["model_sha256"]) == {file_sha256(tmp_path / "models" / "AD" / "model" / "model.safetensors")}
    assert table["seed"].nunique() == 1 and table["params_hash"].nunique() == 1
    assert table["acceptance_rate"].between(0, 1).all()

    image = nib.load(out / "syn-AD-000004.nii.gz")
    np.testing.assert_allclose(image.affine, AFFINE)
    np.testing.assert_array_equal(np.asarray(image.dataobj, dtype=np.float32), stack[4])
    assert (out / "montage.png").stat().st_size > 1000

    metrics = json.loads((tmp_path / "metrics" / "sample_AD.json").read_text())
    assert metrics["n"] == 7 and 0.0 <= metrics["acceptance_rate"] <= 1.0 and metrics["volumes_per_second"] > 0
    assert metrics["acceptance_rate"] == pytest.approx(table["acceptance_rate"].mean(), abs=1e-5)

    read_stack, read_table = read_synthetic(out)  # the consumer's reader
    np.testing.assert_array_equal(read_stack[read_table["row"].to_numpy()], stack)
    assert not list(out.parent.glob(".tmp-*"))


def test_same_params_give_the_same_bytes_and_labels_get_different_streams(tmp_path, models):
    params = _project(tmp_path, models["rhvae"], n=5, write_nifti=False, montage_volumes=0)
    _run(params)
    first = (tmp_path / "synthetic" / "AD" / "samples.npy").read_bytes()
    first_table = (tmp_path / "synthetic" / "AD" / "samples.tsv").read_text()
    _run(params)
    assert (tmp_path / "synthetic" / "AD" / "samples.npy").read_bytes() == first
    assert (tmp_path / "synthetic" / "AD" / "samples.tsv").read_text() == first_table
    # stable across runs and platforms: the first 8 hex digits of sha256("11/AD/rhvae_hmc"), mod 2**31
    assert derived_seed(11, "AD", "rhvae_hmc") == 211474064
    assert derived_seed(11, "AD", "rhvae_hmc") != derived_seed(11, "CN", "rhvae_hmc")


def test_without_nifti_only_the_stack_is_written(tmp_path, models):
    params = _project(tmp_path, models["rhvae"], n=4, write_nifti=False, montage_volumes=0)
    _run(params)
    out = tmp_path / "synthetic" / "AD"
    assert sorted(p.name for p in out.iterdir()) == ["samples.npy", "samples.tsv"]
    assert "filename" not in pd.read_csv(out / "samples.tsv", sep="\t").columns


@pytest.mark.parametrize(("kind", "sampler"), [("geometric_vae", "geometric_hmc"), ("vae", "gmm"), ("vae", "prior")])
def test_stage_runs_each_model_with_its_samplers(tmp_path, models, kind, sampler):
    params = _project(tmp_path, models[kind], n=4, sampler=sampler, write_nifti=False)
    _run(params)
    table = pd.read_csv(tmp_path / "synthetic" / "AD" / "samples.tsv", sep="\t")
    assert set(table["sampler"]) == {sampler} and set(table["model"]) == {kind}
    metrics = json.loads((tmp_path / "metrics" / "sample_AD.json").read_text())
    assert (metrics["acceptance_rate"] is None) == (sampler in ("prior", "gmm"))


def test_sampler_override_writes_beside_the_main_cohort(tmp_path, models):
    params = _project(tmp_path, models["rhvae"], n=3, write_nifti=False, montage_volumes=0)
    _run(params, "--sampler", "random_walk")
    out = tmp_path / "synthetic" / "by_sampler" / "random_walk" / "AD"
    assert np.load(out / "samples.npy").shape == (3, *SHAPE)
    assert (tmp_path / "metrics" / "sample_random_walk_AD.json").is_file()
    assert not (tmp_path / "synthetic" / "AD").exists()


def test_decoding_is_batched_and_independent_of_the_batch_size(tmp_path, models):
    model = models["vae"]
    latents = torch.randn(8, NET.latent_size, generator=torch.Generator().manual_seed(0))
    seen = []
    decode = model.decode
    model.decode = lambda z: (seen.append(z.shape[0]), decode(z))[1]
    try:
        ids = [synthetic_participant_id("CN", i) for i in range(8)]
        for size in (3, 8):
            (tmp_path / str(size)).mkdir()
            write_synthetic_volumes(model, latents, tmp_path / str(size), ids, AFFINE, size, write_nifti=False)
    finally:
        del model.decode
    assert seen == [3, 3, 2, 8]
    small, whole = (np.load(tmp_path / s / "samples.npy") for s in ("3", "8"))
    np.testing.assert_allclose(small, whole, atol=1e-6)
    assert all(b.shape[0] <= 3 for b in decoded_batches(model, latents, 3))


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        ({"n": 0}, ValueError, "sample.n must be a positive integer"),
        ({"sampler": "langevin"}, SamplerError, "unknown sampler"),
        ({"model": "{label}/no-such-model"}, CheckpointError, "no trained model"),
        ({"sampler": "geometric_hmc"}, SamplerError, "needs a geometry-aware VAE"),
    ],
)
def test_bad_input_fails_before_writing_anything(tmp_path, models, overrides, error, match):
    params = _project(tmp_path, models["rhvae"], **{"n": 3, **overrides})
    with pytest.raises(error, match=match):
        _run(params)
    assert not (tmp_path / "synthetic").exists() and not (tmp_path / "metrics").exists()


def test_a_model_of_another_shape_is_refused(tmp_path, models):
    other = NetworkConfig(spatial_dims=3, spatial_shape=(8, 8, 8), channels=(4,), strides=(2,), latent_size=3, metric_hidden_size=8)
    model = RHVAE(RHVAEConfig(network=other))
    model.fit_metric(torch.rand(4, 1, 8, 8, 8), batch_size=4)
    params = _project(tmp_path, model, n=3)
    with pytest.raises(CheckpointError, match="shape"):
        _run(params)
    assert not (tmp_path / "synthetic").exists()


def test_a_failure_while_decoding_keeps_the_previous_cohort(tmp_path, models, monkeypatch):
    params = _project(tmp_path, models["rhvae"], n=6, write_nifti=False, montage_volumes=0)
    _run(params)
    before = (tmp_path / "synthetic" / "AD" / "samples.npy").read_bytes()
    calls = []

    def failing_decode(self, z):
        calls.append(z.shape[0])
        if len(calls) > 1:
            raise RuntimeError("decoder crashed")
        return VAE.decode(self, z)

    monkeypatch.setattr(RHVAE, "decode", failing_decode)
    with pytest.raises(RuntimeError, match="decoder crashed"):
        _run(params)
    assert (tmp_path / "synthetic" / "AD" / "samples.npy").read_bytes() == before
    assert not list((tmp_path / "synthetic").glob(".tmp-*"))
