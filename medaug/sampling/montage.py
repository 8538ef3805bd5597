"""PNG montage of real vs synthetic volumes of one label, for a person to compare them side by side."""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from medaug.io import write_figure  # noqa: E402
from medaug.slices import SLICE_MM, orthogonal_slices  # noqa: E402

__all__ = ["real_vs_synthetic_montage"]

_VIEWS = ("axial", "coronal", "sagittal")


def real_vs_synthetic_montage(
    real: Sequence[np.ndarray],
    synthetic: Sequence[np.ndarray],
    affine: np.ndarray,
    path: str | os.PathLike,
    title: str = "",
    point_mm: Sequence[float] = SLICE_MM,
    dpi: int = 80,
) -> None:
    """Row i: real volume i (axial, coronal, sagittal) | synthetic volume i (same three slices).

    Args:
        real: model-ready volumes (D, H, W) in [0, 1] (RAS, template space).
        synthetic: synthetic volumes of the same shape and range.
        affine: the model-ready grid's voxel-to-world affine (4, 4); slices go through ``point_mm``
            (coronal y, axial z, sagittal x in mm; default through the right hippocampus).
        path: the PNG to write (atomically).
        title: figure title (e.g. the label and sampler).
        point_mm: see ``affine``.
        dpi: resolution of the PNG.

    Both columns use the same grey scale, [0, 1], so intensities compare directly. If one side has
    fewer volumes its cells stay empty.
    """
    rows = max(len(real), len(synthetic))
    if rows == 0:
        raise ValueError("nothing to show: no real and no synthetic volume")
    affine = np.asarray(affine, dtype=float)
    fig, axes = plt.subplots(rows, 6, figsize=(12.0, 2.0 * rows + 0.6), squeeze=False)
    for side, volumes in enumerate((real, synthetic)):
        for row in range(rows):
            for view in range(3):
                ax = axes[row, 3 * side + view]
                ax.set_axis_off()
                if row >= len(volumes):
                    continue
                image = orthogonal_slices(np.asarray(volumes[row], dtype=np.float32), affine, tuple(point_mm))[view]
                ax.imshow(image, cmap="gray", origin="lower", vmin=0.0, vmax=1.0)
                if row == 0:
                    ax.set_title(f"{('real', 'synthetic')[side]} {_VIEWS[view]}", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    write_figure(fig, path, dpi)
