"""Reading ``params.yaml`` for a stage script."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def load_params(section: str | None = None, path: str | Path = "params.yaml") -> dict[str, Any]:
    """Return the whole parameter tree, or one top-level section of it.

    Raises ``KeyError`` naming the file when the section is missing.
    """
    path = Path(path)
    with path.open() as fh:
        tree = yaml.safe_load(fh) or {}
    if section is None:
        return tree
    if section not in tree:
        raise KeyError(f"{path}: no section {section!r} (found {sorted(tree)})")
    return tree[section]
