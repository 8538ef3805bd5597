"""Lazy public names of a package: the one ``__init__`` policy of medaug.

A package's ``__init__`` holds its docstring and a table ``defining module -> names``; nothing is
imported until a name is first used (PEP 562 module ``__getattr__``). So ``import
medaug.classify.stage`` does not run the classifier package's other modules (MONAI, nibabel), and
``from medaug.sampling import RiemannianHMCSampler`` still works for a user. Library code and stage
scripts import from the defining module, which is what the DVC stage deps are computed from
(:mod:`medaug.dvc_deps`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, modules: Mapping[str, Sequence[str]]) -> tuple[list[str], Callable[[str], Any],
                                                                              Callable[[], list[str]]]:
    """``(__all__, __getattr__, __dir__)`` of ``package``, whose public names are defined in ``modules``
    (submodule relative to ``package`` -> the names it defines)."""
    table = {name: module for module, names in modules.items() for name in names}
    if len(table) != sum(len(names) for names in modules.values()):
        raise ValueError(f"{package}: a public name is listed under two modules")

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module hook's name
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{table[name]}"), name)

    def __dir__() -> list[str]:  # noqa: N807
        return sorted(table)

    return sorted(table), __getattr__, __dir__
