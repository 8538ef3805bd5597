"""MkDocs hooks of the docs site (``hooks:`` in mkdocs.yml).

- :func:`on_files` adds one API-reference page per package or top-level module of ``medaug`` (and
  ``api/index.md`` listing them), so that a package added or renamed appears without editing the
  site;
- :func:`on_pre_build` logs a warning for every public module, class or function of ``medaug``
  without a docstring; ``mkdocs build --strict`` turns each warning into a failure.
"""

from __future__ import annotations

import logging
from pathlib import Path

import griffe
from mkdocs.structure.files import File

LOG = logging.getLogger("mkdocs.hooks.medaug")
ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "medaug"


def _api_entries() -> list[str]:
    """Dotted names documented on their own page: every subpackage and top-level module of ``medaug``."""
    base = ROOT / PACKAGE
    names = [p.name for p in sorted(base.iterdir()) if p.is_dir() and (p / "__init__.py").is_file()]
    names += [p.stem for p in sorted(base.glob("*.py")) if p.stem != "__init__"]
    return [f"{PACKAGE}.{name}" for name in names]


def _first_line(name: str) -> str:
    path = ROOT / Path(*name.split("."))
    source = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    module = griffe.visit(name, filepath=source, code=source.read_text())
    return module.docstring.value.strip().splitlines()[0] if module.docstring else ""


def on_files(files, config):
    entries = _api_entries()
    rows = [f"| [`{name}`]({name.split('.', 1)[1]}.md) | {_first_line(name).replace('|', '/')} |" for name in entries]
    index = ["# API reference", "", "Generated from the docstrings of the library, one page per package or module.", "",
             "| module | what it is |", "| --- | --- |", *rows, ""]
    files.append(File.generated(config, "api/index.md", content="\n".join(index)))
    for name in entries:
        page = f"# `{name}`\n\n::: {name}\n"
        files.append(File.generated(config, f"api/{name.split('.', 1)[1]}.md", content=page))
    return files


def _undocumented(obj, found: list[str]) -> None:
    for name, member in obj.members.items():
        if member.is_alias or name.startswith("_"):
            continue
        if member.is_module or member.is_class or (member.is_function and obj.is_module):
            if not member.docstring:
                found.append(member.path)
        if member.is_module or member.is_class:
            _undocumented(member, found)


def on_pre_build(config):
    package = griffe.load(PACKAGE, search_paths=[str(ROOT)], allow_inspection=False, docstring_parser=None)
    found = [] if package.docstring else [PACKAGE]
    _undocumented(package, found)
    for path in found:
        LOG.warning("no docstring: %s (public modules, classes and module-level functions need one)", path)
