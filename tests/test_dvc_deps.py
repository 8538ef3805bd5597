"""Stage code deps from the import walk (medaug.dvc_deps): the repository's dvc.yaml and the walker."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from medaug import dvc_deps

ROOT = Path(__file__).resolve().parents[1]


def test_every_stage_lists_exactly_the_project_files_it_imports():
    wrong = dvc_deps.check(ROOT)
    assert not wrong, (
        "dvc.yaml code deps differ from the stages' imports "
        "(fix: python -m medaug.dvc_deps --write):\n" + "\n".join(entry.describe() for entry in wrong))


def test_every_project_stage_is_walked():
    data = dvc_deps.load_dvc_yaml(ROOT / "dvc.yaml")
    walked = {entry.stage for entry in dvc_deps.stage_deps(data, ROOT)}
    assert walked == set(data["stages"])
    for entry in dvc_deps.stage_deps(data, ROOT):
        assert f"{entry.module.replace('.', '/')}.py" in entry.required


def _project(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return tmp_path


@pytest.fixture
def project(tmp_path):
    return _project(tmp_path, {
        "medaug/__init__.py": "",
        "medaug/io.py": "import json\n",
        "medaug/unused.py": "",
        "medaug/pkg/__init__.py": "from .a import f\n",
        "medaug/pkg/a.py": "from ..io import *\n",
        "medaug/pkg/b.py": "",
        "medaug/pkg/c.py": "",
        "medaug/typed.py": "",
        "pipelines/__init__.py": "",
        "pipelines/_params.py": "",
        "pipelines/stage.py": """\
            from typing import TYPE_CHECKING
            import numpy as np
            from medaug.pkg import b, f
            from pipelines import _params
            if TYPE_CHECKING:
                from medaug import typed
            def main():
                import medaug.pkg.c
            """,
        "pipelines/other.py": "from pipelines.stage import main\n",
    })


def test_closure_follows_parents_submodules_relative_and_local_imports(project):
    assert dvc_deps.import_closure("pipelines.stage", project) == {
        "medaug/__init__.py", "medaug/io.py", "medaug/pkg/__init__.py", "medaug/pkg/a.py", "medaug/pkg/b.py",
        "medaug/pkg/c.py", "pipelines/__init__.py", "pipelines/_params.py", "pipelines/stage.py"}
    assert "pipelines/stage.py" in dvc_deps.import_closure("pipelines.other", project)


def test_unknown_module_is_an_error(project):
    with pytest.raises(FileNotFoundError, match="pipelines.nothing"):
        dvc_deps.import_closure("pipelines.nothing", project)


DVC_YAML = """\
    # a comment that must survive
    stages:
      one:
        cmd: python -m pipelines.stage --flag
        deps:
          - pipelines/stage.py
          - medaug/unused.py   # stale
          - medaug/pkg
          - ${data.dir}/x.tsv   # data dep, kept
          - data/raw
        params:
          - one
      many:
        foreach: [a, b]
        do:
          cmd: python -m pipelines.other --item ${item}
          outs:
            - data/${item}
      shell:
        cmd: echo hi
    """


def test_check_names_stage_missing_and_superfluous(project):
    (project / "dvc.yaml").write_text(textwrap.dedent(DVC_YAML))
    wrong = {entry.stage: entry for entry in dvc_deps.check(project)}
    assert set(wrong) == {"one", "many"}
    assert "medaug/pkg/b.py" in wrong["one"].missing
    assert wrong["one"].superfluous == ["medaug/pkg", "medaug/unused.py"]
    text = wrong["one"].describe()
    assert "stage one" in text and "missing dep: medaug/io.py" in text and "superfluous dep: medaug/unused.py" in text


def test_write_rewrites_code_deps_only_and_keeps_the_rest(project, capsys):
    path = project / "dvc.yaml"
    path.write_text(textwrap.dedent(DVC_YAML))
    assert dvc_deps.main(["--check", "--root", str(project)]) == 1
    assert dvc_deps.main(["--write", "--root", str(project)]) == 0
    assert dvc_deps.main(["--check", "--root", str(project)]) == 0
    text = path.read_text()
    assert text.startswith("# a comment that must survive\n")
    assert "      - ${data.dir}/x.tsv   # data dep, kept\n      - data/raw\n" in text
    assert "medaug/unused.py" not in text and "medaug/pkg\n" not in text
    assert "      deps:\n        - medaug/__init__.py\n" in text  # the foreach stage got a deps list, same layout
    assert "cmd: echo hi" in text
    before = path.read_text()
    dvc_deps.write(project)
    assert path.read_text() == before  # idempotent


def test_editing_an_imported_file_makes_exactly_its_importers_stale(tmp_path):
    """With generated deps, DVC reruns the stages that import a changed file, and only those."""
    import json
    import os
    import subprocess
    import sys

    project = _project(tmp_path, {
        "medaug/__init__.py": "",
        "medaug/shared.py": "",
        "medaug/only_a.py": "from medaug import shared\n",
        "pipelines/__init__.py": "",
        "pipelines/a.py": "import medaug.only_a\nopen('a.txt', 'w').write('a')\n",
        "pipelines/b.py": "from medaug import shared\nopen('b.txt', 'w').write('b')\n",
        "dvc.yaml": """\
            stages:
              a:
                cmd: python -m pipelines.a
                outs: [a.txt]
              b:
                cmd: python -m pipelines.b
                outs: [b.txt]
            """,
    })
    dvc_deps.write(project)
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}

    def dvc(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=project, env=env, check=True,
                              capture_output=True, text=True).stdout

    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    dvc("init", "-q")
    dvc("repro", "-q")

    def stale() -> set[str]:
        return set(json.loads(dvc("status", "--json") or "{}"))

    assert stale() == set()
    (project / "medaug" / "only_a.py").write_text("from medaug import shared  # edited\n")
    assert stale() == {"a"}
    (project / "medaug" / "shared.py").write_text("# edited\n")
    assert stale() == {"a", "b"}


def test_stage_addresses_expand_foreach_and_matrix_as_dvc_names_them():
    dvc_yaml = {"stages": {
        "split": {"cmd": "x"},
        "train_vae": {"foreach": "${sample.labels}", "do": {"cmd": "x"}},
        "train_classifier": {"matrix": {"trainset": "${classify.sets}"}, "cmd": "x"},
        "sample_compare": {"matrix": {"label": "${sample.labels}", "sampler": ["prior", "gmm"]}, "cmd": "x"},
        "cohort": {"foreach": "${cohort.demo}", "do": {"cmd": "x"}},
    }}
    params = {"sample": {"labels": ["patient", "control"]}, "classify": {"sets": {"real": {}, "real-aug": {}}},
              "cohort": {"demo": []}}
    assert dvc_deps.stage_addresses(dvc_yaml, params) == [
        "split", "train_vae@patient", "train_vae@control", "train_classifier@real", "train_classifier@real-aug",
        "sample_compare@patient-prior", "sample_compare@patient-gmm", "sample_compare@control-prior",
        "sample_compare@control-gmm"]


def test_stage_addresses_of_the_demo_match_its_committed_timings():
    import yaml

    root = Path(__file__).resolve().parents[1]
    params = yaml.safe_load((root / "params.yaml").read_text())
    addresses = dvc_deps.stage_addresses(dvc_deps.load_dvc_yaml(root / "dvc.yaml"), params)
    timed = {path.stem for path in (root / "metrics/timings").glob("*.json")}
    assert "train_vae@CN" in addresses and "cohort@demo" in addresses and "report" in addresses
    assert timed <= set(addresses), f"timings of stages the demo pipeline does not have: {sorted(timed - set(addresses))}"


def test_pipeline_stages_of_another_pipelines_parameters_is_none(tmp_path):
    dvc_yaml = tmp_path / "dvc.yaml"
    dvc_yaml.write_text("stages:\n  train_vae:\n    foreach: ${sample.labels}\n    do:\n      cmd: x\n")
    assert dvc_deps.pipeline_stages(dvc_yaml, {"sample": {"labels": ["A"]}}) == ["train_vae@A"]
    assert dvc_deps.pipeline_stages(dvc_yaml, {"other": {}}) is None
    assert dvc_deps.pipeline_stages(tmp_path / "missing.yaml", {}) is None
