"""The Dask client: connect to a running scheduler, or start a local cluster for this run only.

Dask (``distributed``) is an optional dependency (``pip install -e ".[cluster]"``); it is imported here
only, when a cluster run starts. On a cluster the workers must see the repository at the same path
(a shared file system, as on SLURM) and have the project installed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from medaug.cluster.settings import ClusterSettings


def _import_distributed() -> Any:
    try:
        import distributed
    except ModuleNotFoundError as err:  # pragma: no cover - depends on the installation
        raise SystemExit('error: the cluster runner needs Dask: python -m pip install -e ".[cluster]"') from err
    return distributed


@contextlib.contextmanager
def dask_client(settings: ClusterSettings) -> Iterator[Any]:
    """A ``distributed.Client`` for ``settings``; a local cluster is shut down when the block ends.

    ``allowed_failures`` is the scheduler's ``distributed.scheduler.allowed-failures``: it is set
    for a local cluster; a remote scheduler keeps its own configuration (set it where it starts).
    """
    import dask

    distributed = _import_distributed()
    if settings.address:
        with distributed.Client(settings.address) as client:
            yield client
        return
    with dask.config.set({"distributed.scheduler.allowed-failures": settings.allowed_failures}):
        cluster = distributed.LocalCluster(n_workers=settings.workers, threads_per_worker=1, processes=True,
                                           dashboard_address=":0", resources=None)
        try:
            with distributed.Client(cluster) as client:
                yield client
        finally:
            cluster.close()
