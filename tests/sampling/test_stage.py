"""The library entry of stage ``sample`` (medaug.sampling.stage): parameter checks, where the outputs
go, the latent codes it keeps, and the inputs it refuses. The cohort's bytes, samplers and decoding are
tested through the stage script in test_synthesize.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from medaug.sampling.factory import SamplerError
from medaug.sampling.stage import check_params, output_locations, run
from tests.sampling.test_synthesize import _model, _project

GOOD = {"n": 4, "decode_batch_size": 2, "montage_volumes": 0, "samplers": {"prior": {}}}


@pytest.fixture(scope="module")
def vae():
    return _model("vae")


def _params(root: Path, trained, **overrides) -> dict:
    return yaml.safe_load(_project(root, trained, **overrides).read_text())["sample"]


def test_good_parameters_pass_the_check():
    check_params(GOOD, "prior")


@pytest.mark.parametrize("change, sampler, error, message", [
    ({"n": True}, "prior", ValueError, "sample.n must be a positive integer, got True"),
    ({"n": 2.0}, "prior", ValueError, "sample.n must be a positive integer"),
    ({"decode_batch_size": 0}, "prior", ValueError, "sample.decode_batch_size must be a positive integer"),
    ({"montage_volumes": -1}, "prior", ValueError, "sample.montage_volumes must be >= 0"),
    ({"samplers": {"prior": [1, 2]}}, "prior", ValueError, "sample.samplers.prior must be a mapping"),
    ({}, "langevin", SamplerError, "sample.sampler: unknown sampler 'langevin'"),
])
def test_planted_bad_parameters_are_refused_by_name(change, sampler, error, message):
    with pytest.raises(error, match=message):
        check_params({**GOOD, **change}, sampler)


def test_outputs_go_beside_the_main_cohort_for_a_sampler_override():
    params = {"out_dir": "data/synthetic", "metrics_dir": "metrics"}
    assert output_locations(params, "AD", None) == (Path("data/synthetic/AD"), Path("metrics/sample_AD.json"))
    assert output_locations(params, "CN", "gmm") == (Path("data/synthetic/by_sampler/gmm/CN"),
                                                     Path("metrics/sample_gmm_CN.json"))


def test_kept_latent_codes_change_no_sample_and_no_hash(tmp_path, vae):
    plain = _params(tmp_path, vae, n=5, sampler="prior", write_nifti=False, montage_volumes=0)
    first = run(plain, "AD")
    assert json.loads(Path(plain["metrics_dir"], "sample_AD.json").read_text()) == first
    out = Path(plain["out_dir"]) / "AD"
    samples = (out / "samples.npy").read_bytes()
    assert not (out / "latents.npy").exists()
    second = run({**plain, "write_latents": True}, "AD")
    assert first["params_hash"] == second["params_hash"] and first["seed"] == second["seed"]
    assert (out / "samples.npy").read_bytes() == samples
    latents = np.load(out / "latents.npy")
    assert latents.shape == (5, 3) and latents.dtype == np.float32 and np.isfinite(latents).all()
    assert run({**plain, "seed": plain["seed"] + 1}, "AD")["params_hash"] != first["params_hash"]


def test_the_gmm_sampler_without_real_volumes_of_the_label_names_the_split(tmp_path, vae):
    params = _params(tmp_path, vae, n=3, sampler="gmm", montage_volumes=0,
                     model=str(tmp_path / "models" / "AD" / "model"))  # the AD model, asked for MCI codes
    with pytest.raises(ValueError, match=r"train\.tsv: no MCI volume to fit the gmm sampler on"):
        run(params, "MCI")
    assert not (tmp_path / "synthetic").exists() and not (tmp_path / "metrics").exists()


def test_a_stack_without_an_affine_is_refused_before_anything_is_written(tmp_path, vae):
    params = _params(tmp_path, vae, n=3, sampler="prior", montage_volumes=0)
    meta_path = Path(f"{params['stack']}.json")
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({k: v for k, v in meta.items() if k != "affine"}))
    with pytest.raises(ValueError, match=r"model_ready\.json: no affine"):
        run(params, "AD")
    assert not (tmp_path / "synthetic").exists()
