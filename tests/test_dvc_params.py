"""dvc.yaml against every parameter file: each parameter a stage tracks, and each ``${...}`` it
interpolates, exists in params.yaml and in every profile (a renamed key would otherwise fail only
when DVC reaches that stage, after the stages before it have run)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PROFILES = [ROOT / "params.yaml", *sorted((ROOT / "profiles").glob("*.yaml"))]
REFERENCE = re.compile(r"\$\{([A-Za-z0-9_.]+)\}")


def _resolves(tree: dict, dotted: str) -> bool:
    node = tree
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def tracked_and_interpolated() -> set[str]:
    """Dotted parameter names of dvc.yaml: ``params:`` entries and ``${...}`` outside ``foreach`` items."""
    text = (ROOT / "dvc.yaml").read_text()
    names = {name for name in REFERENCE.findall(text) if not name.startswith("item") and name != "key"}
    for stage in yaml.safe_load(text)["stages"].values():
        for entry in stage.get("do", stage).get("params", []):
            for name in [entry] if isinstance(entry, str) else []:
                if "${" not in name:
                    names.add(name)
    return names


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_every_parameter_of_dvc_yaml_exists_in_the_profile(profile: Path) -> None:
    tree = yaml.safe_load(profile.read_text())
    names = tracked_and_interpolated()
    assert len(names) > 20  # the stages do track parameters
    missing = sorted(name for name in names if not _resolves(tree, name))
    assert not missing, f"{profile.name}: dvc.yaml uses {missing}, which this file lacks"


def test_a_renamed_key_is_caught() -> None:
    tree = yaml.safe_load((ROOT / "params.yaml").read_text())
    tree["classify"]["num_threads"] = tree["classify"].pop("threads")
    assert not _resolves(tree, "classify.threads") and "classify.threads" in tracked_and_interpolated()
