"""The shared runner of every stage script: logging, failure handling and the stage's wall time.

Each stage ends with ``sys.exit(run_stage(main))``. ``main(argv)`` reads parameters, calls the
library and writes outputs; it returns 0 (or None) on success and reports a failure by raising (or,
when it has already logged what failed, by returning non-zero). The runner

- configures logging once (``LEVEL logger: message`` on stderr), so stages report through
  ``logging`` only;
- turns any exception into one logged error line (the traceback at DEBUG level, shown with
  ``MEDAUG_LOG_LEVEL=DEBUG``) and the exit code :data:`FAILURE`, whatever the stage (a wrong
  command line still exits 2 through argparse, before the stage starts);
- under ``dvc repro`` (which sets ``DVC_STAGE`` to the stage's address, e.g. ``train_vae@AD``)
  writes the wall time of a successful run to ``metrics/timings/<address>.json``; a failed run
  writes no timing. ``timed=False`` is for the ``report`` stage, which reads ``metrics/timings``:
  a timing of its own would change its input after every run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from medaug.io import stage_timer_name
from pipelines._timing import stage_timer

__all__ = ["FAILURE", "LOG_FORMAT", "run_stage"]

FAILURE = 1
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"

logger = logging.getLogger("pipelines")


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
