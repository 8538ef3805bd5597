"""Conversion of ADNI, AIBL and OASIS-1 downloads to BIDS with clinica's converters.

clinica is an optional extra (``python -m pip install -e ".[clinica]"``); this package only checks
the inputs, imports clinica at call time and calls ``clinica.converters.convert``.

- :data:`STUDIES` says what each converter reads (image folder, clinical files, external tools).
- :func:`check_inputs` fails, naming the folders and files, before clinica is even imported.
- :func:`convert_study` runs one converter.
"""

from medaug._exports import lazy_exports

_EXPORTS = {
    "check_inputs": "run",
    "ClinicaMissingError": "run",
    "convert_study": "run",
    "ConvertInputError": "run",
    "INSTALL_HINT": "studies",
    "STUDIES": "studies",
    "StudySpec": "studies",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
