"""PNG montage of the 2D mode: real slices, their reconstructions and synthetic slices, one row each."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from medaug.io import write_figure

__all__ = ["slice_rows_montage"]


def slice_rows_montage(rows: Mapping[str, np.ndarray], path: str | os.PathLike, title: str = "", n_columns: int = 8,
                       dpi: int = 80) -> None:
    """One row per entry of ``rows`` (row label -> images (n, H', W')), the first ``n_columns`` images of each.

    Every image is drawn transposed with the origin at the bottom (the first image axis runs left to
    right, the second bottom to top: for axial slices of RAS volumes, x to the right and y up), on
    the same grey scale [0, 1] as the min-max rescaled model-ready volumes. Rows with fewer images
    leave their last cells empty. Written atomically.
    """
    if not rows or n_columns <= 0:
        raise ValueError("nothing to draw: no rows or no columns")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shapes = {tuple(np.shape(images)[1:]) for images in rows.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"every row must hold images (n, H, W) of one shape, got {sorted(shapes)}")
    first, second = next(iter(shapes))  # drawn transposed: first axis across, second up
    columns = min(n_columns, max(len(images) for images in rows.values()))
    cell = 1.6
    fig, axes = plt.subplots(len(rows), columns, squeeze=False,
                             figsize=(cell * columns * max(first / second, 0.5) + 1.2, cell * len(rows) + 0.5))
    for row, (label, images) in enumerate(rows.items()):
        for column in range(columns):
            ax = axes[row, column]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if column < len(images):
                ax.imshow(np.asarray(images[column], dtype=np.float32).T, cmap="gray", origin="lower", vmin=0.0, vmax=1.0)
        axes[row, 0].set_ylabel(label, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    write_figure(fig, path, dpi)
