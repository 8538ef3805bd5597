"""What each clinica converter needs: the study name it expects, clinical files, external tools.

The clinical file patterns are the ones clinica's converters look for in the clinical-data folder
(glob patterns; the date or hash suffix of a download varies). They are checked before conversion
so that a missing file is reported by name instead of deep inside clinica.
"""

from __future__ import annotations

from dataclasses import dataclass

#: How to install the optional converter dependency.
INSTALL_HINT = 'python -m pip install -e ".[clinica]"'


@dataclass(frozen=True)
class StudySpec:
    """One converter.

    Attributes:
        key: the ``medaug convert`` argument (``adni``, ``aibl``, ``oasis``).
        clinica_study: the study name of ``clinica.converters.convert``.
        clinica_command: the equivalent ``clinica convert`` subcommand, for messages and docs.
        raw_layout: what the image folder must contain, for error messages.
        clinical_patterns: glob patterns, each of which must match a file of the clinical folder.
        tools: executables that must be on PATH (DICOM to NIfTI conversion).
        accepts_subjects: whether the converter takes a subjects list.
        accepts_modalities: whether the converter takes a modality selection (ADNI).
    """

    key: str
    clinica_study: str
    clinica_command: str
    raw_layout: str
    clinical_patterns: tuple[str, ...]
    tools: tuple[str, ...] = ()
    accepts_subjects: bool = False
    accepts_modalities: bool = False


STUDIES: dict[str, StudySpec] = {
    "adni": StudySpec(
        key="adni",
        clinica_study="ADNI",
        clinica_command="adni-to-bids",
        raw_layout="the unzipped LONI image collection: <raw>/<PTID, e.g. 011_S_0002>/<series>/<date>/<image id>/*.dcm",
        clinical_patterns=("ADNIMERGE*.csv", "MPRAGEMETA*.csv", "MRIQUALITY*.csv",
                           "MAYOADIRL_MRI_IMAGEQC*.csv"),
        tools=("dcm2niix",),
        accepts_subjects=True,
        accepts_modalities=True,
    ),
    "aibl": StudySpec(
        key="aibl",
        clinica_study="AIBL",
        clinica_command="aibl-to-bids",
        raw_layout="the unzipped AIBL MRI download: <raw>/<RID>/<series>/<date>/<image id>/*.dcm",
        clinical_patterns=("aibl_mrimeta_*.csv", "aibl_pdxconv_*.csv", "aibl_ptdemog_*.csv",
                           "aibl_cdr_*.csv", "aibl_mmse_*.csv"),
        tools=("dcm2niix",),
    ),
    "oasis": StudySpec(
        key="oasis",
        clinica_study="OASIS",
        clinica_command="oasis-to-bids",
        raw_layout="the unpacked OASIS-1 discs: <raw>/OAS1_XXXX_MR1/PROCESSED/MPRAGE/SUBJ_111/*.img",
        clinical_patterns=("oasis_cross-sectional*.xlsx",),
    ),
}
