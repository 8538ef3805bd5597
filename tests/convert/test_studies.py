"""medaug.convert.studies: what each clinica converter needs; its clinical-file patterns against download-style names."""

from __future__ import annotations

from fnmatch import fnmatch

import pytest

from medaug.convert.studies import INSTALL_HINT, STUDIES

# clinical files named in the style of ADNI (LONI), AIBL and OASIS-1 downloads, with date or hash suffixes
DOWNLOADS = {
    "adni": ["ADNIMERGE_15Jan2024.csv", "MPRAGEMETA_01Feb2024.csv", "MRIQUALITY.csv", "MAYOADIRL_MRI_IMAGEQC_12_08_15.csv"],
    "aibl": ["aibl_mrimeta_01-Jun-2018.csv", "aibl_pdxconv_01-Jun-2018.csv", "aibl_ptdemog_01-Jun-2018.csv",
             "aibl_cdr_01-Jun-2018.csv", "aibl_mmse_01-Jun-2018.csv"],
    "oasis": ["oasis_cross-sectional-5708aa0a98d82080.xlsx"],
}


@pytest.mark.parametrize("key", sorted(STUDIES))
def test_each_clinical_pattern_matches_exactly_one_file_of_a_download(key):
    spec = STUDIES[key]
    for pattern in spec.clinical_patterns:
        assert sum(fnmatch(name, pattern) for name in DOWNLOADS[key]) == 1, pattern
    assert all(any(fnmatch(name, p) for p in spec.clinical_patterns) for name in DOWNLOADS[key])


@pytest.mark.parametrize(("key", "study", "command"), [("adni", "ADNI", "adni-to-bids"), ("aibl", "AIBL", "aibl-to-bids"),
                                                      ("oasis", "OASIS", "oasis-to-bids")])
def test_each_study_names_its_clinica_converter(key, study, command):
    spec = STUDIES[key]
    assert (spec.key, spec.clinica_study, spec.clinica_command) == (key, study, command)


def test_only_the_dicom_studies_need_dcm2niix_and_only_adni_takes_subjects_and_modalities():
    assert {k for k, s in STUDIES.items() if "dcm2niix" in s.tools} == {"adni", "aibl"}
    assert {k for k, s in STUDIES.items() if s.accepts_subjects} == {"adni"}
    assert {k for k, s in STUDIES.items() if s.accepts_modalities} == {"adni"}
    assert INSTALL_HINT == 'python -m pip install -e ".[clinica]"'
