"""Run one clinica converter after checking its inputs; clinica is imported only here, at call time."""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from medaug.convert.studies import INSTALL_HINT, STUDIES, StudySpec


class ConvertInputError(FileNotFoundError):
    """A raw-data folder, clinical file or external tool that a converter needs is missing."""


class ClinicaMissingError(ImportError):
    """clinica (the optional extra) is not installed."""


def study_spec(study: str) -> StudySpec:
    """The :class:`StudySpec` of ``adni``, ``aibl`` or ``oasis`` (case-insensitive)."""
    key = study.lower()
    if key not in STUDIES:
        raise ValueError(f"unknown study {study!r}; known: {sorted(STUDIES)}")
    return STUDIES[key]


def missing_inputs(spec: StudySpec, raw_dir: Path, clinical_dir: Path,
                   which: Callable[[str], str | None] = shutil.which) -> list[str]:
    """One line per missing input of ``spec`` (empty when everything is there)."""
    problems = []
    if not raw_dir.is_dir():
        problems.append(f"image folder {raw_dir} does not exist (expected {spec.raw_layout})")
    elif not any(raw_dir.iterdir()):
        problems.append(f"image folder {raw_dir} is empty (expected {spec.raw_layout})")
    if not clinical_dir.is_dir():
        problems.append(f"clinical-data folder {clinical_dir} does not exist "
                        f"(expected files matching {', '.join(spec.clinical_patterns)})")
    else:
        for pattern in spec.clinical_patterns:
            if not any(clinical_dir.glob(pattern)):
                problems.append(f"clinical-data folder {clinical_dir} has no file matching {pattern!r}")
    for tool in spec.tools:
        if which(tool) is None:
            problems.append(f"{tool} is not on PATH ({spec.clinica_command} converts DICOM with it; "
                            f"apt-get install dcm2niix or python -m pip install dcm2niix)")
    return problems


def check_inputs(study: str, raw_dir: str | Path, clinical_dir: str | Path,
                 which: Callable[[str], str | None] = shutil.which) -> StudySpec:
    """Raise :class:`ConvertInputError` listing every missing folder, file or tool."""
    spec = study_spec(study)
    problems = missing_inputs(spec, Path(raw_dir), Path(clinical_dir), which)
    if problems:
        raise ConvertInputError(f"{spec.clinica_command}: missing input(s):\n  - " + "\n  - ".join(problems))
    return spec


def load_clinica_convert() -> Callable[..., Any]:
    """``clinica.converters.convert``, or :class:`ClinicaMissingError` saying how to install it."""
    try:
        module = importlib.import_module("clinica.converters")
    except ImportError as err:
        raise ClinicaMissingError(
            f"clinica is not installed (it is an optional extra); install it with: {INSTALL_HINT}"
        ) from err
    return module.convert


def converter_kwargs(spec: StudySpec, n_procs: int, subjects_list: Path | None,
                     modalities: Sequence[str] | None) -> dict[str, Any]:
    """Keyword arguments of ``clinica.converters.convert`` for this study."""
    kwargs: dict[str, Any] = {"n_procs": n_procs}
    if subjects_list is not None:
        if not spec.accepts_subjects:
            raise ValueError(f"{spec.clinica_command} takes no subjects list")
        kwargs["subjects"] = subjects_list
    if modalities:
        if not spec.accepts_modalities:
            raise ValueError(f"{spec.clinica_command} takes no modality selection")
        kwargs["modalities"] = list(modalities)
    return kwargs


def convert_study(
    study: str,
    raw_dir: str | Path,
    clinical_dir: str | Path,
    bids_dir: str | Path,
    n_procs: int = 1,
    subjects_list: str | Path | None = None,
    modalities: Sequence[str] | None = None,
    which: Callable[[str], str | None] = shutil.which,
) -> Path:
    """Convert one study's download to BIDS with clinica; returns the BIDS folder.

    Args:
        study: ``adni``, ``aibl`` or ``oasis`` (OASIS-1 cross-sectional).
        raw_dir: the image download (see :data:`~medaug.convert.studies.STUDIES` for the layout).
        clinical_dir: the folder of clinical tables (CSV / XLSX).
        bids_dir: output BIDS folder (created by clinica).
        n_procs: worker processes clinica uses.
        subjects_list: text file of participant ids, one a line (ADNI only).
        modalities: ADNI modalities to convert (e.g. ``["T1"]``); None: clinica's default (all).

    Raises:
        ValueError: unknown study, or an option the converter does not take.
        ConvertInputError: missing folders, clinical files or tools, all named.
        ClinicaMissingError: clinica is not installed.
    """
    if n_procs < 1:
        raise ValueError(f"n_procs must be >= 1, got {n_procs}")
    spec = check_inputs(study, raw_dir, clinical_dir, which)
    if subjects_list is not None and not Path(subjects_list).is_file():
        raise ConvertInputError(f"subjects list {subjects_list} does not exist")
    kwargs = converter_kwargs(spec, n_procs, Path(subjects_list) if subjects_list else None, modalities)
    convert = load_clinica_convert()
    convert(spec.clinica_study, Path(raw_dir), Path(bids_dir), Path(clinical_dir), **kwargs)
    return Path(bids_dir)
