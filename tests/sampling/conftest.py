"""Target densities of the sampler tests, computed once per module (see :mod:`tests.sampling._targets`)."""

import numpy as np
import pytest

from tests.sampling._targets import N_BINS, geometric_metric, grid_bin_probabilities, rhvae_metric


@pytest.fixture(scope="module")
def rhvae_target():
    metric = rhvae_metric()
    radius = metric.compact_radius()
    edges = np.linspace(-radius, radius, N_BINS + 1)
    probabilities = grid_bin_probabilities(lambda z: -0.5 * metric.log_det_metric(z), radius, edges)
    return metric, edges, probabilities


@pytest.fixture(scope="module")
def geometric_target():
    metric = geometric_metric()
    radius = metric.compact_radius()
    edges = np.linspace(-radius, radius, N_BINS + 1)
    probabilities = grid_bin_probabilities(lambda z: 0.5 * metric.log_det_metric(z), radius, edges)
    return metric, edges, probabilities


@pytest.fixture(scope="module")
def conformal_target():
    # The walk draws v ~ N(0, s^2 I) in coordinates, so its proposal is symmetric only to first order
    # (thesis remark 3). Its s -> 0 limit has the drift -s^2/2 sum_i Gamma^k_ii, which vanishes for a
    # conformal metric in 2D; there the walk is exact as s -> 0 (for a general metric it is not).
    metric = rhvae_metric(conformal=True)
    radius = metric.compact_radius()
    edges = np.linspace(-radius, radius, 7)
    probabilities = grid_bin_probabilities(lambda z: -0.5 * metric.log_det_metric(z), radius, edges)
    return metric, edges, probabilities
