"""The DVC side of a cluster run: which stages, in which order, whether each changed, and recording it.

It uses DVC's own machinery (the stage graph, ``Stage.changed``, ``Stage.save/commit/dump``), the
calls ``dvc repro`` makes around a stage's command, so that a stage run on a worker is recorded in
``dvc.lock`` exactly as if ``dvc repro`` had run it. The caller holds the repository lock
(:func:`open_locked_repo`) for the whole run: a ``dvc repro`` started meanwhile waits or fails,
as it would against another ``dvc repro``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from medaug.cluster.task import StageCommand


@contextlib.contextmanager
def open_locked_repo(root: str | Path) -> Iterator[Any]:
    """A ``dvc.repo.Repo`` at ``root`` whose lock is held until the block ends."""
    from dvc.repo import Repo, lock_repo

    with Repo(str(root)) as repo, lock_repo(repo):
        yield repo


def planned_stages(repo: Any, targets: Sequence[str] | None = None) -> tuple[list[Any], dict[Any, set[Any]]]:
    """The stages ``dvc repro TARGETS`` would consider, upstream first, and each one's upstream stages among them."""
    from dvc.dvcfile import PROJECT_FILE
    from dvc.repo.reproduce import get_active_graph, plan_repro

    stages = []
    for target in targets or [PROJECT_FILE]:
        stages.extend(repo.stage.collect(target))
    graph = get_active_graph(repo.index.graph)
    steps = plan_repro(graph, stages)
    chosen = set(steps)
    upstream = {stage: {dep for dep in graph.successors(stage) if dep in chosen} for stage in steps}
    return steps, upstream


def needs_run(stage: Any) -> bool:
    """True when ``dvc repro`` would run the stage: a command, not frozen, and something changed."""
    return bool(stage.cmd) and not stage.frozen and stage.changed()


def stage_command(stage: Any, threads: int = 1) -> StageCommand:
    """The worker's view of a stage; outputs to clear are the non-persistent ones, as DVC removes them."""
    commands = stage.cmd if isinstance(stage.cmd, list) else [stage.cmd]
    clear = tuple(str(out.fs_path) for out in stage.outs if not out.persist)
    return StageCommand(name=stage.addressing, commands=tuple(commands), wdir=str(stage.wdir),
                        root=str(stage.repo.root_dir), clear=clear, threads=threads)


def record(stage: Any) -> None:
    """What ``dvc repro`` does after a stage's command succeeds: hash deps and outs, commit, write dvc.lock."""
    uses_cache = all(out.use_cache for out in stage.outs if not (out.is_metric or out.is_plot))
    stage.save(run_cache=uses_cache)
    stage.commit()
    stage.dump(update_pipeline=False)
