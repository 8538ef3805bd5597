"""medaug.preprocess.template: the templates and the crop box."""

from __future__ import annotations

import numpy as np
import pytest

from medaug.preprocess.template import CLINICA_CROP_SHAPE, crop_box, load_template


def test_crop_box_holds_whole_brain_mask_and_matches_documented_box():
    template = load_template(1)
    mask = np.asarray(template.brain_mask.dataobj) > 0
    box = crop_box(mask, CLINICA_CROP_SHAPE)
    assert box.start == (14, 13, 0) and box.stop == (183, 221, 179)
    assert mask[box.slices].sum() == mask.sum()
    cropped = template.cropped(box)
    assert cropped.image.shape == CLINICA_CROP_SHAPE
    # the cropped grid's first voxel sits where the box starts on the full grid (mm)
    np.testing.assert_allclose(cropped.affine[:3, 3], [-84.0, -121.0, -72.0])


def test_crop_box_refuses_a_box_smaller_than_the_brain():
    mask = np.asarray(load_template(2).brain_mask.dataobj)
    with pytest.raises(ValueError, match="cannot hold"):
        crop_box(mask, (40, 104, 90))
