"""``medaug init``: the profile it writes, what it prints, and its errors on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytest.importorskip("bids")

from medaug.ingest.init import SplitNeeds, init_profile  # noqa: E402
from medaug.cli import main  # noqa: E402
from tests.bids.fixtures import write_bids  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _base() -> dict:
    return yaml.safe_load((ROOT / "profiles" / "tiny.yaml").read_text())


def test_profile_replaces_the_demo_generator(tmp_path: Path) -> None:
    write_bids(tmp_path / "ds")
    profile = init_profile(tmp_path / "ds", _base(), name="quirky")
    params = profile.params
    assert params["cohort"]["demo"] == [] and list(params["cohort"]["bids"]) == ["quirky"]
    assert params["cohort"]["bids"]["quirky"]["labels"] == {"control": "control", "patient": "patient"}
    assert params["sample"]["labels"] == ["control", "patient"]
    labels = params["split"]["labels"]
    assert labels["diagnosis_column"] == "group" and labels["baseline_session"] == "ses-M000"
    assert labels["diagnosis_values"] == {"control": "control", "patient": "patient", "prodromal": None}
    assert labels["columns"] == {"age": "age", "sex": "sex"}
    assert set(params["split"]["balance"]["p_min"]) == {"age", "sex"}
    assert params["preprocess"]["cohorts"] == ["quirky"] and params["classify"]["training_cohort"] == "quirky"
    assert profile.left_out_labels == {"prodromal": f"2 participant(s); each label needs {SplitNeeds().describe()}"}


def test_cli_prints_what_it_found_and_writes_the_profile(tmp_path: Path, capsys) -> None:
    write_bids(tmp_path / "ds")
    out = tmp_path / "params.yaml"
    assert main(["init", str(tmp_path / "ds"), "--base", str(ROOT / "profiles" / "tiny.yaml"),
                 "--output", str(out)]) == 0
    text = capsys.readouterr().out
    assert "labels from participants.tsv column 'group'" in text
    assert "patient      (value 'patient'): 6 participants used" in text
    assert "left out     (value 'prodromal'): 2 participant(s)" in text
    assert "images per participant: {2: 15}" in text
    assert "sub-001: sub-001_acq-mprage_run-1_T1w.nii (of 2)" in text
    assert "sub-015: no_label" in text and "sub-013: label_not_used" in text
    assert yaml.safe_load(out.read_text())["cohort"]["demo"] == []


def _fails(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    return capsys.readouterr().err


def test_missing_label_column(tmp_path: Path, capsys) -> None:
    write_bids(tmp_path / "ds")
    err = _fails(["init", str(tmp_path / "ds"), "--label-column", "dx", "--output", str(tmp_path / "p.yaml"),
                  "--base", str(ROOT / "profiles" / "tiny.yaml")], capsys)
    assert f"{tmp_path / 'ds' / 'participants.tsv'}: no column 'dx'" in err
    assert not (tmp_path / "p.yaml").exists()


def test_label_with_one_participant(tmp_path: Path, capsys) -> None:
    write_bids(tmp_path / "ds", groups={"patient": 6, "control": 1})
    err = _fails(["init", str(tmp_path / "ds"), "--labels", "patient,control", "--output", str(tmp_path / "p.yaml"),
                  "--base", str(ROOT / "profiles" / "tiny.yaml")], capsys)
    assert "participants.tsv, column 'group': too few participants for the splits: {'control': 1}" in err
    assert "1 test + 1 validation + 3 train = 5" in err
    assert not (tmp_path / "p.yaml").exists()


def test_dataset_too_small_for_the_splits(tmp_path: Path, capsys) -> None:
    write_bids(tmp_path / "ds", groups={"patient": 4, "control": 3})
    err = _fails(["init", str(tmp_path / "ds"), "--output", str(tmp_path / "p.yaml"),
                  "--base", str(ROOT / "profiles" / "tiny.yaml")], capsys)
    assert "too small for the splits: participants per label {'control': 3, 'patient': 4}" in err
    assert "needs 1 test + 1 validation + 3 train = 5" in err


def test_empty_dataset(tmp_path: Path, capsys) -> None:
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "dataset_description.json").write_text('{"Name": "x", "BIDSVersion": "1.9.0"}')
    (tmp_path / "ds" / "participants.tsv").write_text("participant_id\tgroup\n")
    err = _fails(["init", str(tmp_path / "ds"), "--output", str(tmp_path / "p.yaml"),
                  "--base", str(ROOT / "profiles" / "tiny.yaml")], capsys)
    assert f"{tmp_path / 'ds'}: no T1w image found" in err
    assert not (tmp_path / "p.yaml").exists()


def test_duplicate_participant_ids(tmp_path: Path, capsys) -> None:
    write_bids(tmp_path / "ds")
    table = tmp_path / "ds" / "participants.tsv"
    table.write_text(table.read_text() + "sub-002\tcontrol\t70\tF\n")
    err = _fails(["init", str(tmp_path / "ds"), "--output", str(tmp_path / "p.yaml"),
                  "--base", str(ROOT / "profiles" / "tiny.yaml")], capsys)
    assert f"{table}: duplicate participant_id at row 3 (sub-002), row 17 (sub-002)" in err
    assert not (tmp_path / "p.yaml").exists()


def test_image_in_a_different_space(tmp_path: Path, capsys) -> None:
    from tests.bids.fixtures import random_volume, save_image

    files = write_bids(tmp_path / "ds")
    save_image(*random_volume(3), files["sub-003"][0], sform_code=4)
    err = _fails(["init", str(tmp_path / "ds"), "--output", str(tmp_path / "p.yaml"),
                  "--base", str(ROOT / "profiles" / "tiny.yaml")], capsys)
    assert f"{files['sub-003'][0]} (mni)" in err and "different space than the other 11 (native)" in err
    assert not (tmp_path / "p.yaml").exists()


def _stages(tmp_path: Path, params: dict) -> list[str]:
    import os
    import shutil
    import subprocess
    import sys

    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    dvc = [sys.executable, "-m", "dvc"]
    subprocess.run(dvc + ["init", "--no-scm", "-q"], cwd=tmp_path, check=True, env=env)
    done = subprocess.run(dvc + ["stage", "list", "--name-only"], cwd=tmp_path, capture_output=True, text=True,
                          env=env, check=True)
    return done.stdout.split()


def test_graph_of_each_source(tmp_path: Path) -> None:
    """The demo profile's graph has the generator and no BIDS stage; an init profile's the reverse."""
    write_bids(tmp_path / "ds")
    (tmp_path / "demo").mkdir()
    demo = _stages(tmp_path / "demo", yaml.safe_load((ROOT / "params.yaml").read_text()))
    assert "cohort@demo" in demo and not any(s.startswith(("cohort_bids@", "derivatives@")) for s in demo)
    (tmp_path / "own").mkdir()
    own = _stages(tmp_path / "own", init_profile(tmp_path / "ds", _base(), name="quirky").params)
    assert "cohort_bids@quirky" in own and "derivatives@quirky" in own
    assert not any(s.startswith("cohort@") for s in own)


def test_study_profile_uses_the_same_mechanism() -> None:
    from medaug.ingest.source import BIDSSource

    params = yaml.safe_load((ROOT / "profiles" / "adni-aibl.yaml").read_text())
    assert params["cohort"]["demo"] == []
    sources = {n: BIDSSource.from_params(n, s) for n, s in params["cohort"]["bids"].items()}
    assert {n: s.role for n, s in sources.items()} == {"adni": "training", "aibl": "external", "oasis": "external"}
    assert sources["oasis"].labels == {"0": "CN", "0.5": "AD", "1": "AD", "2": "AD", "3": "AD"}
    assert params["split"]["bids_dir"] == params["preprocess"]["bids_dir"] == params["cohort"]["out_dir"]
    assert set(params["split"]["cohorts"]) == set(sources)


def test_labels_from_sessions_tables(tmp_path: Path) -> None:
    write_bids(tmp_path / "ds", sessions=True, extension=".nii.gz")
    profile = init_profile(tmp_path / "ds", _base(), name="long", labels_from="sessions", label_column="group",
                           labels=["patient", "control"])
    labels = profile.params["split"]["labels"]
    assert labels["baseline_session"] == "ses-01" and profile.params["preprocess"]["session_id"] == "ses-01"
    assert labels["diagnosis_values"]["prodromal"] is None
    assert profile.params["cohort"]["bids"]["long"]["labels_from"] == "sessions"


def test_latent_sizes_fit_the_training_set(tmp_path: Path) -> None:
    """6 per label: 1 test, 1 validation, 4 train each; shared components: rank 4 + 4 - 2 = 6."""
    write_bids(tmp_path / "ds", groups={"patient": 6, "control": 6})
    base = _base()
    base["train_vae"]["linear_path_components"] = "shared"
    base["train_vae"]["latent_size_selection"]["candidates"] = [2, 6, 10]
    params = init_profile(tmp_path / "ds", base).params
    assert params["train_vae"]["latent_size_selection"]["candidates"] == [2, 6]
    base["train_vae"]["linear_path_components"] = "label"
    base["train_vae"]["latent_size_selection"]["candidates"] = [10]
    assert init_profile(tmp_path / "ds", base).params["train_vae"]["latent_size_selection"]["candidates"] == [3]


def test_classifier_labels_control_like_negative_or_the_given_order() -> None:
    from medaug.ingest.init import classifier_labels

    assert classifier_labels(["PD", "HC"], ordered=False) == {"negative": "HC", "positive": "PD"}
    assert classifier_labels(["control", "patient"], ordered=False) == {"negative": "control", "positive": "patient"}
    assert classifier_labels(["patient", "control", "prodromal"], ordered=False) == {"negative": "control",
                                                                                    "positive": "patient"}
    assert classifier_labels(["ET", "PD"], ordered=False) == {"negative": "ET", "positive": "PD"}
    assert classifier_labels(["PD", "HC"], ordered=True) == {"negative": "PD", "positive": "HC"}


def test_profile_names_the_classifiers_labels(tmp_path: Path, capsys) -> None:
    write_bids(tmp_path / "ds", groups={"PD": 6, "HC": 6, "prodromal": 2})
    params = init_profile(tmp_path / "ds", _base(), name="hcpd").params
    assert params["classify"]["labels"] == {"negative": "HC", "positive": "PD"}
    assert params["audit"]["labels"] == ["HC", "PD"] and params["sample"]["labels"] == ["HC", "PD"]
    swapped = init_profile(tmp_path / "ds", _base(), name="hcpd", labels=["PD", "HC"]).params
    assert swapped["classify"]["labels"] == {"negative": "PD", "positive": "HC"}
    assert swapped["audit"]["labels"] == ["PD", "HC"]
    out = tmp_path / "params.yaml"
    assert main(["init", str(tmp_path / "ds"), "--base", str(ROOT / "profiles" / "tiny.yaml"), "--output", str(out)]) == 0
    assert "classifiers: PD (positive) vs HC (negative), classify.labels" in capsys.readouterr().out


def test_three_labels_say_the_classifiers_compare_two(tmp_path: Path, capsys) -> None:
    write_bids(tmp_path / "ds", groups={"patient": 6, "control": 6, "prodromal": 6})
    out = tmp_path / "params.yaml"
    assert main(["init", str(tmp_path / "ds"), "--base", str(ROOT / "profiles" / "tiny.yaml"), "--output", str(out)]) == 0
    text = capsys.readouterr().out
    assert "classifiers: patient (positive) vs control (negative)" in text
    assert "['prodromal'] have a generative model but stop train_classifier" in text
    params = yaml.safe_load(out.read_text())
    assert params["sample"]["labels"] == ["control", "patient", "prodromal"]
    assert params["audit"]["labels"] == ["control", "patient"]
