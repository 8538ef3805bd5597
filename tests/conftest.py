"""Shared fixtures. Tests run on CPU with one thread; nothing here reads data made by `dvc repro`."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]

# One ITK thread, as the preprocess workers use (medaug.preprocess.pool): ANTs' multi-threaded metric
# sums in a thread-dependent order, so a registration repeated in one process could differ in the last
# digits. ITK reads this when its thread pool starts, on the first import of ants (after this file).
os.environ.setdefault("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS", "1")


@pytest.fixture(scope="session")
def repo_params() -> dict:
    """The project's params.yaml (the demo profile) as a dict."""
    with (REPO / "params.yaml").open() as fh:
        return yaml.safe_load(fh)


@pytest.fixture()
def tiny_cohort_params(repo_params) -> dict:
    """The demo 'cohort' section shrunk to a few participants at 4 mm, for fast tests."""
    params = copy.deepcopy(repo_params["cohort"])
    params["n_jobs"] = 1
    params["acquisition"]["voxel_size_mm"] = [4.0, 4.0, 4.0]
    cohorts = params["cohorts"]
    train, external = (name for name in cohorts)
    cohorts[train]["groups"] = {"CN": 2, "AD": 2, "MCI": 1, "CN-MCI": 1, "MCI-AD": 1}
    cohorts[external]["groups"] = {"CN": 1, "AD": 1}
    return params


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread_per_session():
    """Torch runs on one intra-op thread for the whole session (module fixtures included), so results
    and run times do not depend on the machine's cores."""
    torch.set_num_threads(1)
    yield


@pytest.fixture(autouse=True)
def _one_torch_thread(_one_torch_thread_per_session):
    """A test that changes the thread count does not pass it on to the next test."""
    yield
    torch.set_num_threads(1)
