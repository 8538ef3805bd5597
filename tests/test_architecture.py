"""The shape of the code base: no import cycle between packages, thin stage scripts that each call one
library ``run``, small modules.

Imports are read with ``ast`` (every ``import`` statement, function-level ones included), so the
check does not import anything. A package is a first-level folder of ``medaug`` (``medaug.models``)
or a first-level module (``medaug.io``); ``pipelines`` is one more.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_STAGE_LINES = 40
MAX_MODULE_LINES = 450


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(module: str) -> str | None:
    """``medaug.models.metric.base`` -> ``medaug.models``; ``pipelines.sample`` -> ``pipelines``."""
    parts = module.split(".")
    if parts[0] == "pipelines":
        return "pipelines"
    if parts[0] != "medaug" or len(parts) < 2:
        return None
    return ".".join(parts[:2])


def _imported_modules(path: Path) -> set[str]:
    module = _module_name(path)
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return found


def _exists(package: str) -> bool:
    """A project package or module (not a name imported from one, such as ``medaug.io.write_json``)."""
    stem = ROOT / package.replace(".", "/")
    return stem.is_dir() or stem.with_suffix(".py").is_file()


def package_graph() -> dict[str, set[str]]:
    """package -> the other packages it imports."""
    graph: dict[str, set[str]] = {}
    for path in [*(ROOT / "medaug").rglob("*.py"), *(ROOT / "pipelines").rglob("*.py")]:
        source = _package(_module_name(path))
        if source is None:  # medaug/__init__.py
            continue
        edges = graph.setdefault(source, set())
        for name in _imported_modules(path):
            target = _package(name)
            if target not in (None, source) and _exists(target):
                edges.add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of nodes (first = last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def _stage_scripts() -> list[Path]:
    return sorted(p for p in (ROOT / "pipelines").glob("*.py") if not p.name.startswith("_"))


def test_the_cycle_finder_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_between_packages():
    graph = package_graph()
    assert {"medaug.models", "medaug.io"} <= graph["medaug.sampling"]  # the walk sees imports
    assert find_cycle(graph) is None, f"import cycle between packages: {' -> '.join(find_cycle(graph))}"


# The trainer's floor: the models and the base modules. ``medaug.volumes`` is the one reader of a
# label's model-ready volumes, which the ``train_vae`` stage (train/stage.py) loads.
TRAIN_MAY_IMPORT = {"medaug.models", "medaug.io", "medaug.config", "medaug.runtime", "medaug.volumes", "medaug._exports"}


def test_train_imports_only_the_models_and_the_base_modules():
    graph = package_graph()
    assert "medaug.models" in graph["medaug.train"]  # the walk sees the trainer's imports
    assert graph["medaug.train"] <= TRAIN_MAY_IMPORT, f"medaug.train imports {sorted(graph['medaug.train'] - TRAIN_MAY_IMPORT)}"


DVC_AWARE = {"medaug.dvc_deps", "medaug.dvc_lock", "medaug.dvc_remote", "medaug.cluster"}


def test_only_the_pipeline_tools_know_of_dvc():
    """The rest of the library runs without DVC: it imports neither ``dvc`` nor the DVC-aware modules."""
    found = []
    for path in (ROOT / "medaug").rglob("*.py"):
        if _package(_module_name(path)) in DVC_AWARE:
            continue
        names = _imported_modules(path)
        found += [f"{path.relative_to(ROOT)}: {n}" for n in sorted(names)
                  if n == "dvc" or n.startswith("dvc.") or _package(n) in DVC_AWARE - {"medaug.cluster"}]
    assert found == [], f"DVC imported outside the pipeline tools: {found}"


def test_library_code_does_not_import_the_stage_scripts():
    importers = [p for p, edges in package_graph().items() if "pipelines" in edges]
    assert importers == [], f"library packages importing pipelines/: {importers}"


def test_stage_scripts_are_thin():
    long = {p.name: n for p in _stage_scripts() if (n := len(p.read_text().splitlines())) >= MAX_STAGE_LINES}
    assert long == {}, f"stage scripts of {MAX_STAGE_LINES} lines or more: {long}"


def test_library_modules_are_small():
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "medaug").rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}, f"over {MAX_MODULE_LINES} lines: {long}"


def _is_stage_entry(module: str) -> bool:
    """``medaug.<package>.stage``, or ``medaug.<module>`` for a room of one module (``medaug.derivatives``)."""
    parts = module.split(".")
    return parts[0] == "medaug" and (parts[-1] == "stage" and len(parts) == 3 or len(parts) == 2)


def test_the_stage_entry_rule_rejects_other_modules():
    assert _is_stage_entry("medaug.sampling.stage") and _is_stage_entry("medaug.derivatives")
    assert not _is_stage_entry("medaug.split.run") and not _is_stage_entry("medaug.report.writer.stage")


@pytest.mark.parametrize("script", [p.stem for p in _stage_scripts()])
def test_each_stage_script_calls_the_run_of_a_library_stage_module(script):
    """``pipelines/<stage>.py`` imports ``run`` from ``medaug.<package>.stage`` (or from a one-module
    room such as ``medaug.derivatives``) and calls it once."""
    tree = ast.parse((ROOT / "pipelines" / f"{script}.py").read_text())
    entries = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
               and node.module and node.module.startswith("medaug.") and any(a.name == "run" for a in node.names)]
    assert len(entries) == 1 and _is_stage_entry(entries[0]), f"pipelines/{script}.py imports run from {entries}"
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Name) and node.func.id == "run"]
    assert len(calls) == 1, f"pipelines/{script}.py calls run {len(calls)} times"
    stage_module = ROOT / (entries[0].replace(".", "/") + ".py")
    functions = {n.name for n in ast.parse(stage_module.read_text()).body if isinstance(n, ast.FunctionDef)}
    assert "run" in functions, f"{stage_module.relative_to(ROOT)} defines no run"


# Packages whose __init__ another part of the project owns (they keep eager re-exports for now).
EAGER_INIT = {"medaug/cohort/__init__.py", "medaug/report/__init__.py", "medaug/split/__init__.py"}


def _lazy_tables() -> dict[str, dict[str, str]]:
    """package -> name -> defining module, read from each ``_EXPORTS`` literal (module -> names)."""
    tables = {}
    for path in (ROOT / "medaug").rglob("__init__.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "_EXPORTS":
                package = _module_name(path)
                tables[package] = {name.value: f"{package}.{module.value}"
                                   for module, names in zip(node.value.keys, node.value.values) for name in names.elts}
    return tables


def test_package_inits_import_nothing_but_the_lazy_export_helper():
    eager = {}
    for path in (ROOT / "medaug").rglob("__init__.py"):
        if str(path.relative_to(ROOT)) in EAGER_INIT:
            continue
        imports = [n for n in ast.parse(path.read_text()).body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = {getattr(n, "module", None) or n.names[0].name for n in imports} - {"__future__", "medaug._exports"}
        if names:
            eager[str(path.relative_to(ROOT))] = sorted(names)
    assert eager == {}, f"__init__ files importing modules at import time: {eager}"


def test_lazy_tables_name_real_definitions():
    import importlib

    tables = _lazy_tables()
    assert {"medaug.classify", "medaug.sampling", "medaug.audit"} <= set(tables)
    for package, table in tables.items():
        folder = ROOT / package.replace(".", "/")
        for name, module in table.items():
            assert hasattr(importlib.import_module(module), name), f"{module} defines no {name}"
            # an imported submodule becomes a package attribute and would hide the lazy name
            assert not (folder / f"{name}.py").exists() and not (folder / name).is_dir(), f"{package}.{name} is a submodule"


def test_library_code_imports_from_the_defining_module():
    """The stage deps (medaug.dvc_deps) follow import statements, not the lazy tables."""
    tables = _lazy_tables()
    found = []
    for path in [*(ROOT / "medaug").rglob("*.py"), *(ROOT / "pipelines").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module in tables:
                found += [f"{path.relative_to(ROOT)}: {a.name}" for a in node.names if a.name in tables[node.module]]
    assert found == [], f"imports of lazily exported names: {found}"


def test_importing_the_classifier_package_does_not_load_monai():
    import subprocess
    import sys

    code = "import sys, medaug.classify, medaug.classify.networks; print('monai' in sys.modules, 'nibabel' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["False", "False"]


MAX_FUNCTION_LINES = 60
KERNEL_MARK = "# numerical kernel:"


def test_library_functions_are_short_unless_marked_numerical_kernels():
    """Over 60 lines (signature and docstring included) only with a ``# numerical kernel: <reason>`` line."""
    long = []
    for path in (ROOT / "medaug").rglob("*.py"):
        name = str(path.relative_to(ROOT))
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = lines[node.lineno - 1 : node.end_lineno]
                if len(body) > MAX_FUNCTION_LINES and not any(line.strip().startswith(KERNEL_MARK) for line in body):
                    long.append(f"{name}:{node.lineno} {node.name} ({len(body)} lines)")
    assert long == [], f"functions over {MAX_FUNCTION_LINES} lines: {long}"


# Library modules (relative to medaug/, no suffix) without a test module of their own name. Empty: every
# module has tests/<room>/test_<module>.py. A module added without one fails the test below unless it is
# listed here, with the reason in a comment.
UNTESTED_MODULES: set[str] = set()


def expected_test_module(module: Path) -> Path:
    """``medaug/<room>/<name>.py`` -> ``tests/<room>/test_<name>.py`` (``medaug/io.py`` -> ``tests/test_io.py``)."""
    relative = module.relative_to(ROOT / "medaug")
    return ROOT / "tests" / relative.parent / f"test_{relative.stem}.py"



def test_the_test_module_of_a_library_module_mirrors_its_path():
    assert expected_test_module(ROOT / "medaug/sampling/stage.py") == ROOT / "tests/sampling/test_stage.py"
    assert expected_test_module(ROOT / "medaug/io.py") == ROOT / "tests/test_io.py"
    assert expected_test_module(ROOT / "medaug/models/metric/base.py") == ROOT / "tests/models/metric/test_base.py"


def test_every_library_module_has_a_test_module_of_its_own():
    """Each ``medaug/<room>/<name>.py`` (private ``_*.py`` and ``__init__.py`` aside) has
    ``tests/<room>/test_<name>.py``, unless listed in ``UNTESTED_MODULES``; a listed module that has
    one now (or no longer exists) must leave the list."""
    modules = {str(p.relative_to(ROOT / "medaug").with_suffix("")): p
               for p in (ROOT / "medaug").rglob("*.py") if not p.name.startswith("_")}
    missing = sorted(name for name, path in modules.items()
                     if not expected_test_module(path).is_file() and name not in UNTESTED_MODULES)
    assert missing == [], f"library modules without tests/<room>/test_<module>.py: {missing}"
    stale = sorted(name for name in UNTESTED_MODULES if name not in modules or expected_test_module(modules[name]).is_file())
    assert stale == [], f"UNTESTED_MODULES lists modules that have a test module or no longer exist: {stale}"
