"""The ``cluster`` section of params.yaml, with ``MEDAUG_CLUSTER_ADDRESS`` taking precedence.

Every key is optional, and so is the section: without it ``medaug cluster run`` starts a local cluster
of ``os.cpu_count()`` single-threaded workers, and ``dvc repro`` never looks at it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from medaug.config import check_keys

ADDRESS_ENV = "MEDAUG_CLUSTER_ADDRESS"
KNOWN_KEYS = {"address", "workers", "threads_per_task", "allowed_failures", "resources", "fan_out"}


@dataclass(frozen=True)
class ClusterSettings:
    """Where and how stages run.

    ``address``: a Dask scheduler (``tcp://host:8786``); ``None`` starts a local cluster of
    ``workers`` processes. ``threads_per_task``: OMP / MKL / ITK threads of each stage command.
    ``allowed_failures``: how many worker deaths one stage survives (it is then run again
    elsewhere); a stage whose command exits non-zero is never retried. ``resources``: abstract Dask
    resources each stage of a group asks for, e.g. ``{"train_classifier": {"GPU": 1}}``; workers
    must declare them (``dask worker --resources GPU=1``). ``fan_out``: stage groups whose command
    sends its own items to the cluster (``preprocess``: one image per task); their task leaves its
    worker slot free while it waits.
    """

    address: str | None = None
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    threads_per_task: int = 1
    allowed_failures: int = 3
    resources: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    fan_out: tuple[str, ...] = ("preprocess",)

    @classmethod
    def from_mapping(cls, section: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None) -> "ClusterSettings":
        """Settings from a ``cluster`` section (``None``: defaults); the env variable overrides the address."""
        section = dict(section or {})
        check_keys(section, KNOWN_KEYS, "cluster")
        environ = os.environ if environ is None else environ
        address = environ.get(ADDRESS_ENV) or section.get("address") or None
        defaults = cls()
        settings = cls(
            address=address,
            workers=int(section.get("workers") or defaults.workers),
            threads_per_task=int(section.get("threads_per_task") or 1),
            allowed_failures=int(section.get("allowed_failures", 3)),
            resources={str(k): dict(v or {}) for k, v in (section.get("resources") or {}).items()},
            fan_out=tuple(section.get("fan_out", defaults.fan_out) or ()),
        )
        if settings.workers < 1 or settings.threads_per_task < 1 or settings.allowed_failures < 0:
            raise ValueError(f"cluster: workers and threads_per_task must be >= 1, allowed_failures >= 0: {settings}")
        return settings

    @classmethod
    def from_params(cls, path: str | Path = "params.yaml", environ: Mapping[str, str] | None = None) -> "ClusterSettings":
        """Settings from a params file's ``cluster`` section; a missing file or section gives the defaults."""
        path = Path(path)
        params = yaml.safe_load(path.read_text()) if path.is_file() else None
        return cls.from_mapping((params or {}).get("cluster"), environ)

    def resources_for(self, stage_name: str) -> dict[str, float]:
        """The resources of the group a stage belongs to (``train_classifier@real`` -> ``train_classifier``)."""
        return dict(self.resources.get(stage_name.split("@", 1)[0], {}))

    def fans_out(self, stage_name: str) -> bool:
        """Whether the stage's command sends its own items to the cluster (see ``fan_out``)."""
        return stage_name.split("@", 1)[0] in self.fan_out
