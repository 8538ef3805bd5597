"""Wall-clock time of a stage script, written as a small JSON metric.

Use it as a context manager around a stage's work, or as a decorator on its ``main``::

    with stage_timer("train_vae@AD"):
        ...

    @stage_timer("evaluate")
    def main(argv=None): ...

On success it writes (atomically) ``path`` with ``{"stage", "seconds", "started", "finished",
"environment"}`` (the Python and package versions the stage ran with: :mod:`medaug.environment`);
``started`` / ``finished`` are ISO 8601 times in UTC. A stage that raises writes nothing, so a
timing file always belongs to a run whose outputs exist. The default path is
``metrics/timings/{name}.json`` (``{name}`` filled in), which the report stage tabulates.
:func:`pipelines._runner.run_stage` applies it to every stage run by ``dvc repro``.
"""

from __future__ import annotations

import contextlib
import time
from datetime import datetime, timezone
from pathlib import Path

from medaug.environment import environment
from medaug.io import write_json

DEFAULT_TIMING_PATH = "metrics/timings/{name}.json"


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


class stage_timer(contextlib.ContextDecorator):  # noqa: N801 - used like a function
    """Record the wall seconds of a block (or of each call of a decorated function) under ``name``."""

    def __init__(self, name: str, path: str | Path = DEFAULT_TIMING_PATH) -> None:
        if not name or "/" in name or "\\" in name:
            raise ValueError(f"stage_timer: invalid stage name {name!r} (non-empty, no path separator)")
        self.name = name
        self.path = Path(str(path).format(name=name))
        self.seconds: float | None = None

    def __enter__(self) -> stage_timer:
        self._started = datetime.now(timezone.utc)
        self._clock = time.perf_counter()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            return False
        self.seconds = time.perf_counter() - self._clock
        write_json({"stage": self.name, "seconds": round(self.seconds, 3),
                    "started": _iso(self._started), "finished": _iso(datetime.now(timezone.utc)),
                    "environment": environment()}, self.path)
        return False
