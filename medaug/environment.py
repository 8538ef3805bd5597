"""The software a run used: Python, the platform and the versions of the packages that shape results.

A stage records this next to what it writes, so a result can be traced to its environment and a
hash that differs from ``dvc.lock`` can be traced to a version change. The versions pinned for
installs live in ``constraints.txt`` (see docs/versions-and-sharing.md).
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

RESULT_PACKAGES = ("medaug", "numpy", "scipy", "pandas", "torch", "monai", "nibabel", "nilearn", "antspyx",
                   "scikit-learn", "safetensors", "matplotlib", "dvc")
"""Distributions whose version can change what a stage computes or writes."""


def package_versions(packages: Iterable[str] = RESULT_PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution (None when it is not installed)."""
    versions = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def environment(packages: Iterable[str] = RESULT_PACKAGES) -> dict[str, Any]:
    """Python version, platform and :func:`package_versions`, as a JSON-ready mapping."""
    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": package_versions(packages),
    }


def write_environment(path: str | Path, packages: Iterable[str] = RESULT_PACKAGES) -> dict[str, Any]:
    """Write :func:`environment` as JSON to ``path`` (atomically) and return it."""
    from medaug.io import write_json

    record = environment(packages)
    write_json(record, path)
    return record


def main(argv: list[str] | None = None) -> int:
    """``python -m medaug.environment [--out PATH]``: print (and optionally write) the record."""
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m medaug.environment", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="also write the record as JSON here")
    args = parser.parse_args(argv)
    record = write_environment(args.out) if args.out else environment()
    print(json.dumps(record, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
