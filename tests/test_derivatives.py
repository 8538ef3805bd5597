"""The synthetic cohorts as a BIDS-derivatives dataset: layout, sidecars, validator, pybids; the export TSV."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from medaug.derivatives import export_training_tsv, model_lock_hash, participant_label, run
from medaug.io import write_tsv
from medaug.preprocess.model_ready import write_stack
from medaug.synthetic import LATENTS_NAME, SAMPLES_STACK, SAMPLES_TABLE, synthetic_table

LABELS = ["patient", "control"]
SHAPE = (6, 7, 5)


def _fixture(root: Path) -> dict:
    """A model-ready stack of 8 real volumes, a train split, 3 synthetic volumes per label, a dvc.lock."""
    rng = np.random.default_rng(0)
    ids = [f"sub-{i:03d}" for i in range(8)]
    real = [rng.random(SHAPE, dtype=np.float32) for _ in ids]
    index = pd.DataFrame({"participant_id": ids, "session_id": "ses-M000"})
    affine = np.diag([4.0, 4.0, 4.0, 1.0]).tolist()
    write_stack(root / "pre" / "model_ready", real, index, {"affine": affine})
    split = index.assign(diagnosis=[LABELS[i % 2] for i in range(8)])
    write_tsv(split, root / "splits" / "train.tsv")
    for k, label in enumerate(LABELS):
        out = root / "synthetic" / label
        out.mkdir(parents=True)
        volumes = np.stack([real[k] * 0.9, real[k + 2] * 0.5, rng.random(SHAPE, dtype=np.float32)])
        np.save(out / SAMPLES_STACK, volumes.astype(np.float32))
        np.save(out / LATENTS_NAME, rng.standard_normal((3, 4)).astype(np.float32))
        table = synthetic_table(label, 3, "rhvae", "rhvae_hmc", "ab" * 32, 7 + k, "feedface",
                                torch.tensor([0.5, 0.6, 0.7]), with_files=False)
        write_tsv(table, out / SAMPLES_TABLE)
    lock = {"schema": "2.0", "stages": {f"train_vae@{lab}": {"outs": [{"path": f"{root}/models/{lab}",
                                                                        "md5": f"{lab}123.dir"}]} for lab in LABELS}}
    (root / "dvc.lock").write_text(yaml.safe_dump(lock))
    return {"cohorts": ["quirky"], "out_dir": str(root / "deriv"), "labels": LABELS, "label_column": "group",
            "synthetic_dir": str(root / "synthetic"), "stack": str(root / "pre" / "model_ready"),
            "train_split": str(root / "splits" / "train.tsv"), "models_dir": str(root / "models"),
            "source_datasets": ["file:///data/quirky"], "mask_threshold": 0.0, "skull_stripped": True,
            "export": str(root / "export.tsv")}


def test_layout_and_sidecars(tmp_path: Path) -> None:
    params = _fixture(tmp_path)
    summary = run(params, lock_path=tmp_path / "dvc.lock")
    out = tmp_path / "deriv"
    description = json.loads((out / "dataset_description.json").read_text())
    assert description["DatasetType"] == "derivative"
    assert description["GeneratedBy"][0]["Name"] == "medaug" and description["GeneratedBy"][0]["Version"]
    assert "patient patient123.dir" in description["GeneratedBy"][0]["Description"]
    assert description["SourceDatasets"] == [{"URL": "file:///data/quirky"}]
    participants = pd.read_csv(out / "participants.tsv", sep="\t")
    assert list(participants.columns) == ["participant_id", "group"]
    assert list(participants["participant_id"])[:2] == ["sub-synthpatient0001", "sub-synthpatient0002"]
    stem = out / "sub-synthcontrol0002" / "anat" / "sub-synthcontrol0002_space-MNI152NLin2009aSym_desc-synthetic_T1w"
    sidecar = json.loads(stem.with_suffix(".json").read_text())
    assert sidecar["group"] == "control" and sidecar["Sampler"] == "rhvae_hmc" and sidecar["Seed"] == 8
    assert sidecar["Model"]["Type"] == "rhvae" and sidecar["Model"]["DVCLockMD5"] == "control123.dir"
    assert len(sidecar["LatentCode"]) == 4 and sidecar["AcceptanceRate"] == pytest.approx(0.6)
    # the second control sample is 0.5 x real volume 3 (a control): its nearest training volume
    assert sidecar["NearestTrainingNeighbour"]["participant_id"] == "sub-003"
    image = nib.load(str(stem) + ".nii.gz")
    assert image.shape == SHAPE and int(image.header["sform_code"]) == 4
    assert summary["labels"]["patient"]["n"] == 3


def test_pybids_indexes_the_derivatives(tmp_path: Path) -> None:
    bids = pytest.importorskip("bids")
    run(_fixture(tmp_path), lock_path=tmp_path / "dvc.lock")
    layout = bids.BIDSLayout(tmp_path / "deriv", validate=False, is_derivative=True)
    images = layout.get(suffix="T1w", extension=".nii.gz", space="MNI152NLin2009aSym", desc="synthetic")
    assert len(images) == 6
    assert layout.get_metadata(images[0].path)["Sampler"] == "rhvae_hmc"


def test_reference_validator_passes(tmp_path: Path) -> None:
    validator = shutil.which("bids-validator-deno") or shutil.which("bids-validator-deno",
                                                                      path=str(Path(sys.executable).parent))
    if validator is None:
        pytest.skip("bids-validator-deno not installed (pip install -c constraints.txt bids-validator-deno)")
    run(_fixture(tmp_path), lock_path=tmp_path / "dvc.lock")
    done = subprocess.run([validator, "--json", str(tmp_path / "deriv")], capture_output=True, text=True, timeout=300)
    report = json.loads(done.stdout)
    errors = [i for i in report["issues"]["issues"] if i["severity"] == "error"]
    assert done.returncode == 0 and errors == [], errors


def test_export_tsv(tmp_path: Path) -> None:
    deriv = _fixture(tmp_path)
    run(deriv, lock_path=tmp_path / "dvc.lock")
    params = {"derivatives": deriv, "train_vae": {"splits_dir": str(tmp_path / "splits"), "train_split": "train"},
              "classify": {"training_cohort": "quirky"}, "preprocess": {"caps_dir": str(tmp_path / "caps")}}
    table = export_training_tsv(params)
    written = pd.read_csv(tmp_path / "export.tsv", sep="\t")
    assert len(written) == len(table) == 8 + 6
    assert written.groupby("origin").size().to_dict() == {"real": 8, "synthetic": 6}
    assert set(written["diagnosis"]) == set(LABELS)
    synthetic = written[written["origin"] == "synthetic"]
    assert all(Path(p).is_file() for p in synthetic["path"])
    assert list(written[written["origin"] == "real"]["stack_row"]) == list(range(8))


def test_names() -> None:
    assert participant_label("AD", 0) == "synthAD0001"
    with pytest.raises(ValueError, match="letters and digits"):
        participant_label("CN-MCI", 0)
    assert model_lock_hash("/nonexistent/dvc.lock", "x") is None
