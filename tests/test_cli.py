"""medaug.cli: the ``medaug`` command line; its subcommands, and their exit codes on bad input.

The subcommands' work is tested with their libraries (tests/convert, tests/ingest, tests/slicecheck,
tests/cluster); here: the parser, ``align`` end to end on a small image, and the error paths.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import yaml

import medaug
from medaug.cli import build_parser, main
from medaug.cohort.align import template_grid


def test_every_subcommand_is_registered():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == {"cohort", "align", "convert", "slices", "init", "export", "cluster"}


def test_version_and_an_unknown_command(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"medaug {medaug.__version__}"
    with pytest.raises(SystemExit) as done:
        main(["generate"])
    assert done.value.code == 2


def test_align_writes_the_image_resampled_with_its_true_pose(tmp_path: Path, capsys):
    shape, affine = template_grid(4.0)
    data = np.random.default_rng(0).uniform(size=shape).astype(np.float32)
    world_from_mni = np.eye(4)
    world_from_mni[:3, 3] = [6.0, -2.0, 10.0]
    nib.save(nib.Nifti1Image(data, world_from_mni @ affine), tmp_path / "native.nii.gz")
    (tmp_path / "truth.json").write_text(json.dumps({"world_from_mni": world_from_mni.tolist()}))
    out = tmp_path / "mni.nii.gz"
    assert main(["align", str(tmp_path / "native.nii.gz"), str(tmp_path / "truth.json"), str(out),
                 "--voxel-size", "4"]) == 0
    aligned = nib.load(out)
    np.testing.assert_allclose(aligned.get_fdata(), data, atol=1e-5)
    np.testing.assert_array_equal(aligned.affine, affine)
    assert capsys.readouterr().out.strip() == f"wrote {out} {shape} at 4.0 mm"


def test_cohort_with_a_bad_parameter_exits_2_naming_it_and_writes_nothing(tmp_path: Path, repo_params, capsys):
    params = {"cohort": {**repo_params["cohort"], "seed": -1}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    assert main(["cohort", "--params", str(tmp_path / "params.yaml"), "--out-dir", str(tmp_path / "bids"),
                 "--metrics-dir", str(tmp_path / "metrics")]) == 2
    assert "error: cohort.seed must be >= 0, got -1" in capsys.readouterr().err
    assert not (tmp_path / "bids").exists() and not (tmp_path / "metrics").exists()
    assert main(["cohort", "--params", str(tmp_path / "params.yaml"), "--out-dir", str(tmp_path / "bids"),
                 "--metrics-dir", str(tmp_path / "metrics"), "--seed", "-5"]) == 2
    assert "got -5" in capsys.readouterr().err


def test_export_without_its_inputs_exits_2_naming_the_file(tmp_path: Path, capsys):
    params = {"derivatives": {"out_dir": str(tmp_path / "deriv"), "stack": str(tmp_path / "stack"),
                              "label_column": "diagnosis", "export": str(tmp_path / "export.tsv")},
              "train_vae": {"splits_dir": str(tmp_path / "splits"), "train_split": "train"},
              "classify": {"training_cohort": "demo"}, "preprocess": {"caps_dir": str(tmp_path / "caps")}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    assert main(["export", "--params", str(tmp_path / "params.yaml")]) == 2
    assert f"error: {tmp_path / 'splits' / 'train.tsv'}: file not found" in capsys.readouterr().err
    assert not (tmp_path / "export.tsv").exists()


def test_cohort_runs_the_stage_entry_with_the_command_line_folders(tmp_path: Path, repo_params, monkeypatch, capsys):
    import medaug.cohort.stage as cohort_stage

    calls = []

    def fake_generate(config, out_dir, montage_dir, montage_subjects):
        calls.append((config.seed, out_dir, montage_dir, montage_subjects))
        return {"demo": {"images": 2}}

    monkeypatch.setattr(cohort_stage, "generate_cohorts", fake_generate)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"cohort": repo_params["cohort"]}))
    assert main(["cohort", "--params", str(tmp_path / "params.yaml"), "--out-dir", str(tmp_path / "bids"),
                 "--montage-dir", str(tmp_path / "png"), "--metrics-dir", str(tmp_path / "m"), "--seed", "7"]) == 0
    assert calls == [(7, str(tmp_path / "bids"), str(tmp_path / "png"), repo_params["cohort"]["montage_subjects"])]
    assert json.loads((tmp_path / "m" / "cohort.json").read_text()) == {"demo": {"images": 2}}
    assert json.loads(capsys.readouterr().out) == {"demo": {"images": 2}}
