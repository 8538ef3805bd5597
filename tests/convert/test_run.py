"""medaug convert: input checks, the clinica call boundary (mocked) and the missing-clinica message."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from medaug.cli import main
from medaug.convert import STUDIES, ClinicaMissingError, ConvertInputError, check_inputs, convert_study

ON_PATH = {"dcm2niix": "/usr/bin/dcm2niix"}.get  # a `which` that finds dcm2niix
NOWHERE = lambda tool: None  # noqa: E731  a `which` that finds nothing


def make_download(tmp_path: Path, study: str) -> tuple[Path, Path]:
    """A raw folder with one entry and a clinical folder with one file per required pattern."""
    raw, clinical = tmp_path / "raw", tmp_path / "clinical"
    (raw / "subject-folder").mkdir(parents=True)
    clinical.mkdir()
    for pattern in STUDIES[study].clinical_patterns:
        (clinical / pattern.replace("*", "_20240101")).write_text("x")
    return raw, clinical


@pytest.fixture
def fake_clinica(monkeypatch):
    """Installs a stand-in ``clinica.converters`` that records its calls."""
    calls = []
    package = types.ModuleType("clinica")
    converters = types.ModuleType("clinica.converters")
    converters.convert = lambda *args, **kwargs: calls.append((args, kwargs))
    package.converters = converters
    monkeypatch.setitem(sys.modules, "clinica", package)
    monkeypatch.setitem(sys.modules, "clinica.converters", converters)
    return calls


@pytest.fixture
def no_clinica(monkeypatch):
    """Makes ``import clinica.converters`` fail as it does when the extra is not installed."""
    monkeypatch.setitem(sys.modules, "clinica", None)
    monkeypatch.setitem(sys.modules, "clinica.converters", None)


@pytest.mark.parametrize("study, clinica_study", [("adni", "ADNI"), ("aibl", "AIBL"), ("oasis", "OASIS")])
def test_calls_clinica_convert_with_study_raw_bids_clinical(tmp_path, fake_clinica, study, clinica_study):
    raw, clinical = make_download(tmp_path, study)
    out = convert_study(study, raw, clinical, tmp_path / "bids", n_procs=3, which=ON_PATH)
    assert out == tmp_path / "bids"
    (args, kwargs), = fake_clinica
    assert args == (clinica_study, raw, tmp_path / "bids", clinical)
    assert kwargs == {"n_procs": 3}


def test_adni_passes_modalities_and_subjects_list(tmp_path, fake_clinica):
    raw, clinical = make_download(tmp_path, "adni")
    subjects = tmp_path / "subjects.txt"
    subjects.write_text("011_S_0002\n")
    convert_study("ADNI", raw, clinical, tmp_path / "bids", subjects_list=subjects, modalities=["T1"], which=ON_PATH)
    (_, kwargs), = fake_clinica
    assert kwargs == {"n_procs": 1, "subjects": subjects, "modalities": ["T1"]}


def test_options_a_converter_does_not_take_are_refused(tmp_path, fake_clinica):
    raw, clinical = make_download(tmp_path, "oasis")
    with pytest.raises(ValueError, match="no modality selection"):
        convert_study("oasis", raw, clinical, tmp_path / "bids", modalities=["T1"])
    assert fake_clinica == []


def test_missing_folders_are_all_named(tmp_path, fake_clinica):
    with pytest.raises(ConvertInputError) as err:
        convert_study("aibl", tmp_path / "no-raw", tmp_path / "no-clinical", tmp_path / "bids", which=ON_PATH)
    message = str(err.value)
    assert "aibl-to-bids" in message
    assert f"image folder {tmp_path / 'no-raw'} does not exist" in message
    assert f"clinical-data folder {tmp_path / 'no-clinical'} does not exist" in message
    assert fake_clinica == []


def test_missing_clinical_file_and_dicom_tool_are_named(tmp_path):
    raw, clinical = make_download(tmp_path, "adni")
    next(clinical.glob("MPRAGEMETA*")).unlink()
    with pytest.raises(ConvertInputError) as err:
        check_inputs("adni", raw, clinical, which=NOWHERE)
    message = str(err.value)
    assert "no file matching 'MPRAGEMETA*.csv'" in message
    assert "dcm2niix is not on PATH" in message
    assert "ADNIMERGE" not in message  # present files are not reported


def test_empty_image_folder_is_an_error(tmp_path):
    raw, clinical = make_download(tmp_path, "oasis")
    (raw / "subject-folder").rmdir()
    with pytest.raises(ConvertInputError, match="is empty"):
        check_inputs("oasis", raw, clinical)


def test_without_clinica_the_error_says_how_to_install_it(tmp_path, no_clinica):
    raw, clinical = make_download(tmp_path, "oasis")
    with pytest.raises(ClinicaMissingError, match=r'python -m pip install -e "\.\[clinica\]"'):
        convert_study("oasis", raw, clinical, tmp_path / "bids")


def test_cli_exits_non_zero_with_the_install_hint(tmp_path, no_clinica, capsys):
    raw, clinical = make_download(tmp_path, "oasis")
    code = main(["convert", "oasis", str(raw), str(clinical), str(tmp_path / "bids")])
    assert code != 0
    assert 'python -m pip install -e ".[clinica]"' in capsys.readouterr().err


def test_cli_names_missing_inputs_and_exits_non_zero(tmp_path, capsys):
    code = main(["convert", "oasis", str(tmp_path / "raw"), str(tmp_path / "clinical"), str(tmp_path / "bids")])
    assert code != 0
    err = capsys.readouterr().err
    assert str(tmp_path / "raw") in err and str(tmp_path / "clinical") in err


def test_cli_runs_the_converter(tmp_path, fake_clinica, capsys):
    raw, clinical = make_download(tmp_path, "oasis")
    code = main(["convert", "oasis", str(raw), str(clinical), str(tmp_path / "bids"), "--n-procs", "2"])
    assert code == 0
    (args, kwargs), = fake_clinica
    assert args[0] == "OASIS" and kwargs == {"n_procs": 2}
