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


@pytest.mark.parametrize("params_file", ["params.yaml", "profiles/tiny.yaml", "profiles/gpu-h200.yaml", "profiles/adni-aibl.yaml"])
def test_the_audit_regions_in_params_are_the_demo_generators(params_file):
    """audit.regions restates the generator's regions (so editing the generator does not rerun the audit);
    the masks they give equal those drawn from the generator's own definitions on a model-ready grid."""
    from pathlib import Path

    import yaml

    from medaug.cohort.atlas import MTL_REGIONS, VENTRICLE_SD_MM, load_template_atlas

    root = Path(__file__).resolve().parents[2]
    options = yaml.safe_load((root / params_file).read_text())["audit"]["regions"]
    affine = np.array([[4.0, 0, 0, -84], [0, 4.0, 0, -120], [0, 0, 4.0, -72], [0, 0, 0, 1]])
    xyz = grid_coordinates((43, 52, 45), affine)
    generator = {
        "mtl": gaussian_region_weight(xyz, [c for c, _ in MTL_REGIONS.values()], [s for _, s in MTL_REGIONS.values()],
                                      mirror_x=True),
        "ventricles": gaussian_region_weight(xyz, load_template_atlas(head_shell=False).ventricle_centres_mm,
                                             VENTRICLE_SD_MM),
    }
    for name, expected in generator.items():
        region = options[name]
        weight = gaussian_region_weight(xyz, region["centres_mm"], region["sd_mm"], mirror_x=True)
        assert np.array_equal(weight >= options["min_weight"], expected >= options["min_weight"]), name
        assert (expected >= options["min_weight"]).sum() > 20
        np.testing.assert_allclose(weight, expected, rtol=0, atol=1e-12)
