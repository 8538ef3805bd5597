"""How every stage script runs: logging, one exit code for any failure, and the stage's wall time.

Each ``pipelines/<stage>.py`` ends with ``sys.exit(run_stage(main))``. ``main()`` parses the command
line and calls the stage's ``run``; it returns 0 (or None) on success and reports a failure by
raising (or, when it has already logged what failed, by returning non-zero). :func:`run_stage`

- configures logging once (``LEVEL logger: message`` on stderr), so stages report through
  ``logging`` only;
- turns any exception into one logged error line (the traceback at DEBUG level, shown with
  ``MEDAUG_LOG_LEVEL=DEBUG``) and the exit code :data:`FAILURE`, whatever the stage (a wrong
  command line still exits 2 through argparse, before the stage starts);
- under ``dvc repro`` (which sets ``DVC_STAGE`` to the stage's address, e.g. ``train_vae@AD``)
  writes the wall time of a successful run with :class:`stage_timer` to
  ``metrics/timings/<address>.json``; a failed run writes no timing. ``timed=False`` is for the
  ``report`` stage, which reads ``metrics/timings``: a timing of its own would change its input
  after every run.

:class:`stage_timer` can also be used on its own, as a context manager or a decorator::

    with stage_timer("train_vae@AD"):
        ...

On success it writes (atomically) ``{"stage", "seconds", "started", "finished", "environment"}``
(the Python and package versions the stage ran with: :mod:`medaug.environment`); ``started`` /
``finished`` are ISO 8601 times in UTC. A block that raises writes nothing, so a timing file always
belongs to a run whose outputs exist.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from medaug.environment import environment
from medaug.io import stage_timer_name, write_json

__all__ = ["DEFAULT_TIMING_PATH", "FAILURE", "LOG_FORMAT", "run_stage", "stage_timer"]

FAILURE = 1
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
DEFAULT_TIMING_PATH = "metrics/timings/{name}.json"

logger = logging.getLogger("pipelines")


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


def run_stage(main: Callable[[], int | None], timed: bool = True) -> int:
    """Run a stage script's ``main()``; return 0 on success, :data:`FAILURE` otherwise."""
    logging.basicConfig(level=os.environ.get("MEDAUG_LOG_LEVEL", "INFO"), format=LOG_FORMAT)
    address = os.environ.get("DVC_STAGE")
    timer = stage_timer(stage_timer_name(address)) if address and timed else None
    if timer is not None:
        timer.__enter__()
    try:
        code = int(main() or 0)
    except Exception as err:  # noqa: BLE001 - every failure ends the stage the same way
        logger.error("stage %s failed: %s: %s", address or "(outside dvc)", type(err).__name__, err)
        logger.debug("traceback", exc_info=True)
        return FAILURE
    if code != 0:
        logger.error("stage %s failed (exit code %d)", address or "(outside dvc)", code)
        return FAILURE
    if timer is not None:
        timer.__exit__(None, None, None)
    return 0
