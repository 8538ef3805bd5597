"""medaug.audit.montage: which volumes of each set the montage shows."""

from __future__ import annotations

import numpy as np

from medaug.audit import montage_indices


def test_montage_indices_are_seeded_distinct_and_capped():
    first = montage_indices(200, 4, seed=3)
    assert len(set(first.tolist())) == 4 and (np.diff(first) > 0).all() and first.max() < 200
    assert first.tolist() == montage_indices(200, 4, seed=3).tolist()
    assert montage_indices(3, 4, 0).tolist() == [0, 1, 2] and len(montage_indices(0, 4, 0)) == 0
