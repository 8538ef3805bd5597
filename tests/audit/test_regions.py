"""medaug.audit.regions: region weights on the model-ready grid and dark-voxel fractions."""

from __future__ import annotations

import numpy as np
import pytest

from medaug.audit import (
    dark_fraction,
    gaussian_region_weight,
    grid_coordinates,
    mean_intensity,
)


def test_region_weight_and_dark_fraction_on_a_known_grid():
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = [-10.0, -10.0, -10.0]
    xyz = grid_coordinates((11, 11, 11), affine)
    assert np.allclose(xyz[:, 5, 5, 5], 0.0)
    weight = gaussian_region_weight(xyz, [(4.0, 0.0, 0.0)], (2.0, 2.0, 2.0), mirror_x=True)
    assert weight[7, 5, 5] == pytest.approx(1.0) and weight[3, 5, 5] == pytest.approx(1.0)
    assert weight[5, 5, 5] == pytest.approx(np.exp(-2.0))
    region = weight >= 0.5
    volumes = np.ones((2, 11, 11, 11), dtype=np.float32)
    volumes[1, 7, 5, 5] = 0.0
    assert dark_fraction(volumes, region, 0.3).tolist() == [0.0, 1.0 / region.sum()]
    assert mean_intensity(volumes, region).tolist() == pytest.approx([1.0, 1.0 - 1.0 / region.sum()])
    with pytest.raises(ValueError, match="no voxel"):
        dark_fraction(volumes, np.zeros((11, 11, 11), bool), 0.3)
