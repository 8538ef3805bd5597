"""Checking the keys of a parameter mapping before it becomes a frozen config dataclass.

Every config's ``from_dict`` and every parameter block with a fixed set of keys goes through
:func:`check_keys`, so that a misspelt key fails early with one message format::

    <where>: unknown key(s) ['n_step']; known: ['batch_size', 'n_steps', ...]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["check_keys", "dataclass_keys"]


def check_keys(values: Mapping[str, Any], known: Iterable[str], where: str,
               error: type[Exception] = ValueError) -> None:
    """Raise ``error`` naming ``where`` when ``values`` has a key outside ``known``."""
    known = set(known)
    unknown = sorted(set(values) - known)
    if unknown:
        raise error(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")


def dataclass_keys(cls: type, exclude: Iterable[str] = ()) -> set[str]:
    """The init field names of a dataclass, less ``exclude``."""
    return {f.name for f in dataclasses.fields(cls) if f.init} - set(exclude)
