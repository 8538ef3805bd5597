"""Run the changed stages of a pipeline as Dask tasks and record them in DVC as they finish.

The order is DVC's: a stage is looked at once every upstream stage it has in the plan is settled
(up to date, or run and recorded); only then does DVC decide whether it changed, so a stage whose
inputs came out identical is skipped, as in ``dvc repro``. Changed stages that are ready run at
the same time, one task each; the driver alone touches ``dvc.lock``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medaug.cluster.engine import dask_client
from medaug.cluster.plan import needs_run, open_locked_repo, planned_stages, record, stage_command
from medaug.cluster.settings import ADDRESS_ENV, ClusterSettings
from medaug.cluster.task import StageResult, run_stage_command


class ClusterRunError(RuntimeError):
    """A stage failed: its command exited non-zero, or its workers died more often than allowed."""

    def __init__(self, stage: str, message: str, report: "GridReport | None" = None):
        super().__init__(f"stage '{stage}' failed: {message}")
        self.stage, self.report = stage, report


@dataclass
class GridReport:
    """What a cluster run did: stages run (with their seconds and host), stages found up to date, wall time."""

    ran: dict[str, StageResult] = field(default_factory=dict)
    up_to_date: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def _failure_message(result: StageResult) -> str:
    return f"exit code {result.returncode} from {result.failed_command!r} on {result.host}; output ends with:\n{result.output_tail}"


class _Scheduler:
    """The driver's loop: submit ready changed stages, wait for any to finish, record or fail."""

    def __init__(self, client: Any, steps: list[Any], upstream: dict[Any, set[Any]], settings: ClusterSettings,
                 log: Callable[[str], None], keep_going: bool):
        self.client, self.settings, self.log, self.keep_going = client, settings, log, keep_going
        self.pending, self.upstream = list(steps), upstream
        self.settled: set[Any] = set()
        self.blocked: set[Any] = set()
        self.running: dict[Any, Any] = {}
        self.report = GridReport()

    def _submit_ready(self) -> None:
        for stage in list(self.pending):
            before = self.upstream[stage]
            if before & self.blocked:
                self.pending.remove(stage)
                self.blocked.add(stage)
                self.report.failed[stage.addressing] = "not run: an upstream stage failed"
            elif before <= self.settled:
                self.pending.remove(stage)
                if needs_run(stage):
                    self._submit(stage)
                else:
                    self.settled.add(stage)
                    self.report.up_to_date.append(stage.addressing)

    def _submit(self, stage: Any) -> None:
        name = stage.addressing
        spec = stage_command(stage, self.settings.threads_per_task)
        if self.settings.fans_out(name):
            spec = dataclasses.replace(spec, fan_out=True, env={ADDRESS_ENV: self.client.scheduler.address})
        future = self.client.submit(run_stage_command, spec, key=f"stage-{name}-{uuid.uuid4().hex[:8]}", pure=False,
                                    resources=self.settings.resources_for(name) or None, retries=0)
        self.running[future] = stage
        self.log(f"cluster: submitted {name}")

    def _finish(self, future: Any) -> None:
        stage = self.running.pop(future)
        name = stage.addressing
        try:
            result = future.result()
        except Exception as err:  # noqa: BLE001 - e.g. KilledWorker once allowed-failures is spent
            self._fail(stage, f"{type(err).__name__}: {err}")
            return
        if not result.ok:
            self._fail(stage, _failure_message(result))
            return
        record(stage)
        self.settled.add(stage)
        self.report.ran[name] = result
        self.log(f"cluster: {name} done in {result.seconds:.1f} s on {result.host}; recorded in dvc.lock")

    def _fail(self, stage: Any, message: str) -> None:
        self.blocked.add(stage)
        self.report.failed[stage.addressing] = message
        self.log(f"cluster: stage '{stage.addressing}' failed: {message}")
        if not self.keep_going:
            self.client.cancel(list(self.running))
            raise ClusterRunError(stage.addressing, message, self.report)

    def run(self) -> GridReport:
        from distributed import wait

        self._submit_ready()
        while self.running:
            done, _ = wait(list(self.running), return_when="FIRST_COMPLETED")
            for future in done:
                self._finish(future)
            self._submit_ready()
        first_failure = next(iter(self.report.failed.items()), None)
        if first_failure:
            raise ClusterRunError(*first_failure, self.report)
        return self.report


def run_on_cluster(root: str | Path = ".", targets: Sequence[str] | None = None, settings: ClusterSettings | None = None,
             client: Any = None, log: Callable[[str], None] = print, keep_going: bool = False) -> GridReport:
    """Bring ``targets`` (default: the whole ``dvc.yaml``) up to date, running changed stages on Dask.

    ``settings`` default to ``<root>/params.yaml``'s ``cluster`` section; ``client`` (a running
    ``distributed.Client``) overrides them. Raises :class:`ClusterRunError` naming the first failed stage;
    stages that finished before it stay recorded. ``keep_going`` runs every stage that does not
    depend on a failed one before raising.
    """
    start = time.perf_counter()
    root = Path(root).resolve()
    settings = settings or ClusterSettings.from_params(root / "params.yaml")
    with contextlib.chdir(root), open_locked_repo(root) as repo:  # DVC resolves targets from the working directory
        steps, upstream = planned_stages(repo, targets)
        with contextlib.nullcontext(client) if client is not None else dask_client(settings) as active:
            report = _Scheduler(active, steps, upstream, settings, log, keep_going).run()
    report.seconds = round(time.perf_counter() - start, 3)
    return report
