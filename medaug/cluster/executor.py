"""One Dask task per item, for a stage that fans its own items out (preprocessing: one image per task).

A stage that runs under ``dvc repro`` with ``MEDAUG_CLUSTER_ADDRESS`` set sends its items to that
cluster instead of its local process pool; it collects every result itself and writes the same
outputs as with its local pool, so DVC sees the same stage. ``setup`` runs on the worker before each item (for
example the ITK thread count, which must be set before ITK starts its thread pool in that worker).
A worker that dies is replaced and its item re-run (Dask's ``allowed-failures``); an item whose
function raises fails the map at once, with no retry.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from medaug.cluster.settings import ADDRESS_ENV

Item = TypeVar("Item")


def cluster_address() -> str | None:
    """The Dask scheduler named by ``MEDAUG_CLUSTER_ADDRESS``, or None (run locally)."""
    return os.environ.get(ADDRESS_ENV) or None


def _run_item(setup: Callable[[], Any] | None, function: Callable[..., Any], item: Any, args: tuple) -> Any:
    if setup is not None:
        setup()
    return function(item, *args)


def map_on_cluster(address: str, function: Callable[..., Any], items: Sequence[Item], *args: Any,
                   setup: Callable[[], Any] | None = None, resources: dict[str, float] | None = None
                   ) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, function(item, *args))`` as the cluster at ``address`` finishes each item (any order)."""
    import distributed

    with distributed.Client(address) as client:
        futures = {client.submit(_run_item, setup, function, item, args, pure=False, resources=resources): index
                   for index, item in enumerate(items)}
        try:
            for future in distributed.as_completed(futures):
                yield futures[future], future.result()
        finally:
            client.cancel(list(futures))
