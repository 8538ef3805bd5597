"""What a Dask worker runs for one stage: the stage's own commands, in a fresh process, as DVC would.

Nothing here imports DVC: a worker needs the project's environment and the shared file system only.
Before every attempt (a retry after a worker death included) the stage's non-persistent outputs are
removed, as ``dvc repro`` does, so that an attempt that died half-way leaves nothing behind that the
next one could mix with. A command that exits non-zero is reported in the result, not raised: Dask
retries only attempts whose worker died, never a deterministic failure. A stage that fans out
(``StageCommand.fan_out``) gets the scheduler's address in ``spec.env`` and leaves its worker slot
(Dask's ``secede``) while its items run as tasks of their own.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS")
WORKER_PID_ENV = "MEDAUG_GRID_WORKER_PID"
OUTPUT_TAIL_CHARS = 4000
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class StageCommand:
    """One stage as a worker needs it: name, commands, working directory, outputs to clear, threads."""

    name: str
    commands: tuple[str, ...]
    wdir: str
    root: str
    clear: tuple[str, ...] = ()
    threads: int = 1
    env: dict[str, str] = field(default_factory=dict)
    fan_out: bool = False


@dataclass(frozen=True)
class StageResult:
    """How one attempt ended. ``returncode`` 0 means every command succeeded."""

    name: str
    returncode: int
    seconds: float
    output_tail: str
    host: str
    failed_command: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def clear_outputs(paths: tuple[str, ...]) -> None:
    """Remove files or folders (absolute paths) that exist; like DVC before it runs a stage."""
    for path in map(Path, paths):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def command_environment(spec: StageCommand) -> dict[str, str]:
    """The worker's environment plus DVC's stage variables, the thread counts and ``spec.env``."""
    env = dict(os.environ)
    env.update({name: str(spec.threads) for name in THREAD_VARIABLES})
    env.update({"DVC_ROOT": spec.root, "DVC_STAGE": spec.name, WORKER_PID_ENV: str(os.getpid())})
    env.pop("MEDAUG_CLUSTER_ADDRESS", None)  # only a fan-out stage gets it, through spec.env
    env.update(spec.env)
    return env


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the command is killed if the worker thread that started it dies (a killed worker)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


@contextlib.contextmanager
def _worker_slot_freed(free: bool) -> Iterator[None]:
    """Leave the Dask worker's thread pool while the block runs (inside a task only), then rejoin it."""
    if not free:
        yield
        return
    from distributed import rejoin, secede

    secede()
    try:
        yield
    finally:
        rejoin()


def run_stage_command(spec: StageCommand) -> StageResult:
    """Clear the stage's outputs, then run its commands in order with ``$SHELL -c`` (stop at the first failure)."""
    start = time.perf_counter()
    clear_outputs(spec.clear)
    with _worker_slot_freed(spec.fan_out):
        returncode, tail, failed = _run_commands(spec)
    return StageResult(spec.name, returncode, round(time.perf_counter() - start, 3), tail, os.uname().nodename, failed)


def _run_commands(spec: StageCommand) -> tuple[int, str, str]:
    env = command_environment(spec)
    shell = os.environ.get("SHELL") or "/bin/sh"
    tail, returncode, failed = "", 0, ""
    for command in spec.commands:
        proc = subprocess.run([shell, "-c", command], cwd=spec.wdir, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, errors="replace",
                              preexec_fn=_die_with_parent if os.name == "posix" else None)
        tail = (tail + proc.stdout)[-OUTPUT_TAIL_CHARS:]
        if proc.returncode != 0:
            returncode, failed = proc.returncode, command
            break
    return returncode, tail, failed
