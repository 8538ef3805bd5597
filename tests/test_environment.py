"""The environment record written with a run's results (medaug.environment)."""

from __future__ import annotations

import json
from importlib import metadata

from medaug.environment import environment, package_versions, write_environment


def test_versions_are_the_installed_ones_and_missing_is_none():
    versions = package_versions(["numpy", "no-such-distribution-medaug"])
    assert versions == {"numpy": metadata.version("numpy"), "no-such-distribution-medaug": None}


def test_record_is_json_with_python_and_packages(tmp_path):
    path = tmp_path / "metrics" / "environment.json"
    record = write_environment(path, ["torch"])
    assert json.loads(path.read_text()) == record
    assert record["packages"] == {"torch": metadata.version("torch")}
    assert record["python"].count(".") == 2 and set(environment()) >= {"platform", "machine", "packages"}
