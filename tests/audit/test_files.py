"""medaug.audit.files: the names of the audit's files, declared once for the writer and the report."""

from __future__ import annotations

import ast
from pathlib import Path

from medaug.audit import files

ROOT = Path(__file__).resolve().parents[2]
NAMES = {name: value for name, value in vars(files).items() if name.isupper() and isinstance(value, str)}


def test_names_are_distinct_tables_are_tsv_and_figures_png():
    assert len(set(NAMES.values())) == len(NAMES) == 13
    assert all(value.endswith(".tsv") for name, value in NAMES.items() if name.endswith("_TABLE"))
    assert all(value.endswith(".png") for name, value in NAMES.items() if name.endswith(("_FIGURE", "MONTAGE")))
    assert files.MONTAGE.format(label="AD") == "montage_AD.png"


def test_no_other_library_module_spells_a_name_out():
    """A name written out elsewhere would silently part from its declaration here."""
    found = []
    for path in sorted((ROOT / "medaug").rglob("*.py")):
        if path == ROOT / "medaug" / "audit" / "files.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in NAMES.values():
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert found == [], f"audit file names written out instead of imported from medaug.audit.files: {found}"
