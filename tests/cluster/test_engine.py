"""medaug.cluster.engine: connect to a scheduler, or start a local cluster for one run and stop it after.

Dask is replaced by a recording stand-in: the real client is exercised in test_runner.py.
"""

from __future__ import annotations

import pytest

dask = pytest.importorskip("dask")   # the optional [cluster] dependency

from medaug.cluster import engine  # noqa: E402
from medaug.cluster.engine import dask_client  # noqa: E402
from medaug.cluster.settings import ClusterSettings  # noqa: E402


class _FakeDistributed:
    """Records the clusters and clients made, and the allowed-failures setting in force when each starts."""

    def __init__(self) -> None:
        self.events: list[tuple] = []
        fake = self

        class Client:
            def __init__(self, target):
                self.target = target

            def __enter__(self):
                fake.events.append(("client", self.target))
                return self

            def __exit__(self, *exc):
                fake.events.append(("client closed", self.target))

        class LocalCluster:
            def __init__(self, **options):
                self.options = options
                fake.events.append(("cluster", options, dask.config.get("distributed.scheduler.allowed-failures")))

            def close(self):
                fake.events.append(("cluster closed",))

        self.Client, self.LocalCluster = Client, LocalCluster


@pytest.fixture()
def fake(monkeypatch):
    distributed = _FakeDistributed()
    monkeypatch.setattr(engine, "_import_distributed", lambda: distributed)
    return distributed


def test_a_scheduler_address_connects_and_starts_no_cluster(fake):
    with dask_client(ClusterSettings(address="tcp://node:8786")) as client:
        assert client.target == "tcp://node:8786"
    assert fake.events == [("client", "tcp://node:8786"), ("client closed", "tcp://node:8786")]


def test_a_local_cluster_has_single_threaded_workers_and_the_allowed_failures(fake):
    with dask_client(ClusterSettings(address=None, workers=3, allowed_failures=5)):
        pass
    kind, options, allowed = fake.events[0]
    assert kind == "cluster" and allowed == 5
    assert (options["n_workers"], options["threads_per_worker"], options["processes"]) == (3, 1, True)
    assert [e[0] for e in fake.events[1:]] == ["client", "client closed", "cluster closed"]


def test_the_local_cluster_stops_when_the_run_fails(fake):
    with pytest.raises(RuntimeError, match="stage failed"):
        with dask_client(ClusterSettings(address=None, workers=1)):
            raise RuntimeError("stage failed")
    assert fake.events[-1] == ("cluster closed",)
