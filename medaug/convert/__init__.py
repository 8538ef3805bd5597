"""Conversion of ADNI, AIBL and OASIS-1 downloads to BIDS with clinica's converters.

clinica is an optional extra (``python -m pip install -e ".[clinica]"``); this package only checks
the inputs, imports clinica at call time and calls ``clinica.converters.convert``.

- :data:`STUDIES` says what each converter reads (image folder, clinical files, external tools).
- :func:`check_inputs` fails, naming the folders and files, before clinica is even imported.
- :func:`convert_study` runs one converter.
"""

from medaug._exports import lazy_exports

_EXPORTS = {  # defining module (relative) -> its public names
    "run": ["check_inputs", "ClinicaMissingError", "convert_study", "ConvertInputError"],
    "studies": ["INSTALL_HINT", "STUDIES", "StudySpec"],
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
