"""The code deps of each DVC stage, found from the imports of the module its ``cmd`` runs.

A stage's ``cmd`` is ``python -m pipelines.<name> ...``. Every project file that module imports,
directly or through other project modules, and at any depth (function-level imports included), can
change what the stage writes, so it must be one of the stage's ``deps``; a file it does not import
must not be one, or editing it would rerun the stage for nothing. Files are listed one by one
rather than as package folders: a folder dep reruns the stage when any file in it changes, even
one the stage never imports.

The walk is static (:mod:`ast`, nothing is imported) and follows Python's import semantics:
``import a.b.c`` and ``from a.b.c import x`` run ``a/__init__.py``, ``a/b/__init__.py`` and
``a/b/c.py``, and ``from a.b import c`` also runs ``a/b/c.py`` when ``c`` is a submodule. Imports
under ``if TYPE_CHECKING:`` are skipped (they never run). Only the project's own packages
(:data:`PROJECT_PACKAGES`) are followed; third-party packages are pinned by the constraints file.

Command line (from the repository root)::

    python -m medaug.dvc_deps --check    # exit 1 and list, per stage, missing and superfluous deps
    python -m medaug.dvc_deps --write    # rewrite those deps in dvc.yaml, comments and layout kept

Only the deps entries that name project code (a path under a project package, no ``${...}``) are
managed; data deps and everything else in ``dvc.yaml`` are left as they are.
"""

from __future__ import annotations

import argparse
import ast
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_PACKAGES = ("medaug", "pipelines")
"""Top-level packages whose files are stage deps."""

_COMMAND_MODULE = re.compile(r"\bpython3?\s+-m\s+([A-Za-z_][\w.]*)")


def module_path(module: str, root: Path) -> Path | None:
    """The file that defines ``module`` under ``root`` (``a/b.py`` or ``a/b/__init__.py``), or None."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path, root: Path) -> tuple[str, bool]:
    """Dotted name of a project file and whether it is a package ``__init__``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement of ``tree``, at any depth, except under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def imported_modules(path: Path, root: Path) -> set[str]:
    """Dotted names of every module whose code an import in ``path`` may run (parents included).

    Names are candidates: for ``from a import x``, ``a.x`` is listed whether ``x`` is a submodule
    or an attribute; :func:`module_path` tells which exist in the project.
    """
    name, is_package = _module_name(path, root)
    package = name if is_package else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in _import_nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.update(_with_parents(alias.name))
            continue
        if node.level:
            anchor = package.split(".") if package else []
            anchor = anchor[: len(anchor) - (node.level - 1)] if node.level > 1 else anchor
            base = ".".join(anchor + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        if not base:
            continue
        found.update(_with_parents(base))
        found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return found


def import_closure(module: str, root: Path, packages: Iterable[str] = PROJECT_PACKAGES) -> set[str]:
    """Project files (POSIX paths relative to ``root``) that running ``python -m module`` imports.

    ``module``'s own file and its parent packages' ``__init__.py`` are included. Raises
    ``FileNotFoundError`` if ``module`` is not a project file.
    """
    root = Path(root)
    packages = tuple(packages)
    start = module_path(module, root)
    if start is None:
        raise FileNotFoundError(f"module {module!r} has no file under {root}")
    todo = [module_path(name, root) for name in _with_parents(module)]
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path is None or path in seen:
            continue
        seen.add(path)
        for name in imported_modules(path, root):
            if name.split(".")[0] in packages:
                todo.append(module_path(name, root))
    return {path.relative_to(root).as_posix() for path in seen}


def command_module(cmd: str | list[str]) -> str | None:
    """The module a stage ``cmd`` runs with ``python -m``, or None."""
    text = " && ".join(cmd) if isinstance(cmd, list) else str(cmd)
    match = _COMMAND_MODULE.search(text)
    return match.group(1) if match else None


def is_code_dep(entry: Any, packages: Iterable[str] = PROJECT_PACKAGES) -> bool:
    """Whether a ``deps`` entry names project code (managed here) rather than data or a template."""
    if not isinstance(entry, str) or "${" in entry:
        return False
    first = entry.strip("/").split("/")[0]
    return first in tuple(packages)


def stage_definitions(dvc_yaml: dict) -> Iterator[tuple[str, dict]]:
    """``(name, definition)`` of each stage; for ``foreach``, the definition is its ``do`` block."""
    for name, stage in (dvc_yaml.get("stages") or {}).items():
        yield name, (stage["do"] if "foreach" in stage and "do" in stage else stage)


_INTERPOLATION = re.compile(r"^\$\{\s*([\w.-]+)\s*\}$")


def _resolve(value: Any, params: dict) -> Any:
    """``${a.b}`` looked up in ``params`` (DVC's interpolation of ``foreach`` / ``matrix``); anything else as it is."""
    match = _INTERPOLATION.match(value) if isinstance(value, str) else None
    if match is None:
        return value
    for key in match.group(1).split("."):
        params = params[key]
    return params


def _item_names(values: Any) -> list[str]:
    """The names DVC gives a ``foreach`` / ``matrix`` axis: a mapping's keys, a list's items."""
    if isinstance(values, dict):
        return [str(key) for key in values]
    return [str(value) for value in values or []]


def stage_addresses(dvc_yaml: dict, params: dict) -> list[str]:
    """Every stage address the pipeline has under ``params``, as DVC names them.

    ``foreach`` over a list or mapping gives ``name@item`` (``train_vae@AD``); ``matrix`` gives
    ``name@v1-v2`` with one value per axis, in the axes' order (``sample_compare@AD-prior``); a
    plain stage keeps its name. Axes are ``${section.key}`` interpolations of ``params`` or literal
    lists. An empty axis means no stage of that name. Raises ``KeyError`` for a key ``params`` lacks.
    """
    addresses = []
    for name, stage in (dvc_yaml.get("stages") or {}).items():
        if "foreach" in stage:
            addresses += [f"{name}@{item}" for item in _item_names(_resolve(stage["foreach"], params))]
        elif "matrix" in stage:
            axes = [_item_names(_resolve(values, params)) for values in stage["matrix"].values()]
            combos = [[]]
            for axis in axes:
                combos = [combo + [value] for combo in combos for value in axis]
            addresses += [f"{name}@{'-'.join(combo)}" for combo in combos if axes]
        else:
            addresses.append(str(name))
    return addresses


def pipeline_stages(dvc_yaml: Path, params: dict) -> list[str] | None:
    """:func:`stage_addresses` of the file ``dvc_yaml``; None when it is missing or interpolates a
    key ``params`` lacks (parameters of another pipeline: a caller then treats every stage as its own)."""
    if not dvc_yaml.is_file():
        return None
    try:
        return stage_addresses(load_dvc_yaml(dvc_yaml), params)
    except (KeyError, TypeError) as err:
        logging.getLogger(__name__).warning("%s does not match these parameters (missing %s); stages not listed", dvc_yaml, err)
        return None


@dataclass
class StageDeps:
    """Code deps of one stage: what its imports need against what ``dvc.yaml`` lists."""

    stage: str
    module: str | None
    required: list[str] = field(default_factory=list)
    listed: list[str] = field(default_factory=list)

    @property
    def missing(self) -> list[str]:
        return sorted(set(self.required) - set(self.listed))

    @property
    def superfluous(self) -> list[str]:
        return sorted(set(self.listed) - set(self.required))

    @property
    def ok(self) -> bool:
        return not self.missing and not self.superfluous

    def describe(self) -> str:
        lines = [f"stage {self.stage} (python -m {self.module}):"]
        lines += [f"  missing dep: {path}" for path in self.missing]
        lines += [f"  superfluous dep: {path}" for path in self.superfluous]
        return "\n".join(lines)


def _yaml():
    from ruamel.yaml import YAML

    yaml = YAML()  # round-trip: keeps comments, order and quoting
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    yaml.preserve_quotes = True
    return yaml


def load_dvc_yaml(path: Path) -> Any:
    """``dvc.yaml`` read round-trip (comments, order and quoting kept), so that only the code deps change when it is written back."""
    with open(path, encoding="utf-8") as fh:
        return _yaml().load(fh)


def stage_deps(dvc_yaml: dict, root: Path) -> list[StageDeps]:
    """One :class:`StageDeps` per stage whose ``cmd`` runs a project module with ``python -m``."""
    result = []
    for name, definition in stage_definitions(dvc_yaml):
        module = command_module(definition.get("cmd", ""))
        if module is None or module.split(".")[0] not in PROJECT_PACKAGES:
            continue
        listed = [str(dep) for dep in definition.get("deps") or [] if is_code_dep(dep)]
        result.append(StageDeps(name, module, sorted(import_closure(module, root)), listed))
    return result


def check(root: Path, dvc_yaml_path: Path | None = None) -> list[StageDeps]:
    """Stages of ``root/dvc.yaml`` whose code deps differ from their import closure."""
    root = Path(root)
    data = load_dvc_yaml(dvc_yaml_path or root / "dvc.yaml")
    return [entry for entry in stage_deps(data, root) if not entry.ok]


def write(root: Path, dvc_yaml_path: Path | None = None) -> list[str]:
    """Rewrite each stage's code deps in ``dvc.yaml`` to its import closure; returns the stages changed.

    The code deps come first, sorted; the other deps keep their order and comments after them.
    """
    root = Path(root)
    path = Path(dvc_yaml_path or root / "dvc.yaml")
    data = load_dvc_yaml(path)
    changed = []
    for entry in stage_deps(data, root):
        if entry.ok and entry.listed == entry.required:
            continue
        definition = dict(stage_definitions(data))[entry.stage]
        deps = definition.get("deps")
        if deps is None:
            from ruamel.yaml.comments import CommentedSeq

            deps = definition["deps"] = CommentedSeq()
        others = [dep for dep in deps if not is_code_dep(dep)]
        other_comments = {i: deps.ca.items.get(j) for i, j in
                          enumerate(k for k, dep in enumerate(deps) if not is_code_dep(dep))}
        deps.clear()
        deps.ca.items.clear()
        deps.extend(entry.required + others)
        for i, comment in other_comments.items():
            if comment is not None:
                deps.ca.items[len(entry.required) + i] = comment
        changed.append(entry.stage)
    if changed:
        with open(path, "w", encoding="utf-8") as fh:
            _yaml().dump(data, fh)
    return changed


def main(argv: list[str] | None = None) -> int:
    """``python -m medaug.dvc_deps --check | --write``; returns 1 when ``--check`` finds stale deps."""
    parser = argparse.ArgumentParser(prog="python -m medaug.dvc_deps", description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true", help="list missing and superfluous code deps; exit 1 if any")
    action.add_argument("--write", action="store_true", help="rewrite the code deps of dvc.yaml from the imports")
    parser.add_argument("--root", default=".", help="repository root (default: %(default)s)")
    parser.add_argument("--dvc-yaml", default=None, help="pipeline file (default: ROOT/dvc.yaml)")
    args = parser.parse_args(argv)
    root = Path(args.root)
    dvc_yaml = Path(args.dvc_yaml) if args.dvc_yaml else None
    if args.write:
        changed = write(root, dvc_yaml)
        print(f"rewrote the code deps of {len(changed)} stage(s)" + (f": {', '.join(changed)}" if changed else ""))
        return 0
    wrong = check(root, dvc_yaml)
    for entry in wrong:
        print(entry.describe())
    if wrong:
        print(f"{len(wrong)} stage(s) with wrong code deps; fix with: python -m medaug.dvc_deps --write", file=sys.stderr)
        return 1
    print("every stage's code deps match its imports")
    return 0


if __name__ == "__main__":
    sys.exit(main())
