"""medaug._exports: a package's public names load on first use, from the module that defines them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from medaug._exports import lazy_exports

ROOT = Path(__file__).resolve().parents[1]


def test_names_resolve_from_their_module_and_unknown_names_fail():
    names, getattr_, dir_ = lazy_exports("medaug", {"figures": ["VIEWS", "orthogonal_slices"], "io": ["write_json"]})
    assert names == dir_() == ["VIEWS", "orthogonal_slices", "write_json"]
    from medaug.figures import VIEWS
    from medaug.io import write_json

    assert getattr_("VIEWS") is VIEWS and getattr_("write_json") is write_json
    with pytest.raises(AttributeError, match="module 'medaug' has no attribute 'nothing'"):
        getattr_("nothing")


def test_a_name_under_two_modules_is_refused():
    with pytest.raises(ValueError, match="pkg: a public name is listed under two modules"):
        lazy_exports("pkg", {"a": ["x"], "b": ["x"]})


def test_importing_a_package_imports_none_of_its_modules_until_a_name_is_used():
    code = ("import sys, medaug.sampling as s; before = 'medaug.sampling.hmc' in sys.modules; "
            "s.RiemannianHMCSampler; print(before, 'medaug.sampling.hmc' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["False", "True"]
