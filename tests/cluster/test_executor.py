"""medaug.cluster.executor: one task per item on the cluster named by ``MEDAUG_CLUSTER_ADDRESS``.

Dask's client is replaced by an in-process stand-in that finishes the items in reverse order; the
real cluster runs the items in test_runner.py.
"""

from __future__ import annotations

import sys
import types

import pytest

from medaug.cluster.executor import cluster_address, map_on_cluster


class _Future:
    def __init__(self, call):
        self.call = call

    def result(self):
        return self.call()


def _fake_distributed(log: list) -> types.ModuleType:
    module = types.ModuleType("distributed")

    class Client:
        def __init__(self, address):
            log.append(("connect", address))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            log.append(("close",))

        def submit(self, function, *args, pure=True, resources=None):
            log.append(("submit", pure, resources))
            return _Future(lambda: function(*args))

        def cancel(self, futures):
            log.append(("cancel", len(futures)))

    module.Client = Client
    module.as_completed = lambda futures: reversed(list(futures))
    return module


@pytest.fixture()
def log(monkeypatch):
    events: list = []
    monkeypatch.setitem(sys.modules, "distributed", _fake_distributed(events))
    return events


def _scaled(item, factor, offset=0):
    return item * factor + offset


def test_results_come_back_with_the_index_of_their_item(log):
    results = list(map_on_cluster("tcp://s:1", _scaled, [1, 2, 3], 10, resources={"GPU": 1}))
    assert results == [(2, 30), (1, 20), (0, 10)]   # in the order the items finished
    assert log[0] == ("connect", "tcp://s:1")
    assert log[1:4] == [("submit", False, {"GPU": 1})] * 3   # never cached: each item runs
    assert log[-2:] == [("cancel", 3), ("close",)]


def test_setup_runs_before_every_item(log):
    calls = []
    results = dict(map_on_cluster("tcp://s:1", lambda item: calls.append(("item", item)) or item, ["a", "b"],
                                  setup=lambda: calls.append(("setup",))))
    assert results == {0: "a", 1: "b"}
    assert calls == [("setup",), ("item", "b"), ("setup",), ("item", "a")]


def test_a_failing_item_raises_and_the_rest_is_cancelled(log):
    def fail_on_two(item):
        if item == 2:
            raise ValueError("item 2 is bad")
        return item

    with pytest.raises(ValueError, match="item 2 is bad"):
        list(map_on_cluster("tcp://s:1", fail_on_two, [1, 2, 3]))
    assert ("cancel", 3) in log and log[-1] == ("close",)


def test_cluster_address_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("MEDAUG_CLUSTER_ADDRESS", "tcp://sched:8786")
    assert cluster_address() == "tcp://sched:8786"
    monkeypatch.setenv("MEDAUG_CLUSTER_ADDRESS", "")
    assert cluster_address() is None
    monkeypatch.delenv("MEDAUG_CLUSTER_ADDRESS")
    assert cluster_address() is None
