"""Figures of volumes: orthogonal slices through a point in mm, and the PNG montages built from them.

- :func:`orthogonal_slices`, :func:`view_slice`: the axial, coronal and sagittal slices (:data:`VIEWS`)
  of an RAS, MNI-aligned volume, for ``imshow(..., origin="lower")``;
- :func:`real_vs_synthetic_montage`: real vs synthetic volumes of one label (the ``sample`` stage);
- :func:`set_montage`, :func:`montage_indices`: random volumes of several sets and each set's
  voxelwise sd (the ``audit`` stage);
- :func:`slice_rows_montage`: rows of 2D images (the 2D quick check, :mod:`medaug.slicecheck`).

Every figure is written atomically as a PNG (:func:`medaug.io.write_figure`) with matplotlib's Agg
backend, imported on first use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from medaug.io import write_figure

__all__ = ["SLICE_MM", "VIEWS", "montage_indices", "orthogonal_slices", "real_vs_synthetic_montage", "set_montage",
           "slice_rows_montage", "view_slice"]

VIEWS = ("axial", "coronal", "sagittal")
"""The three views, in the order :func:`orthogonal_slices` returns them."""

SLICE_MM = (-22.0, -14.0, 26.0)
"""Coronal y, axial z and sagittal x (mm) through the right hippocampus, where AD atrophy shows."""


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _bare(ax) -> None:
    """No ticks and no frame: an image cell of a montage."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def orthogonal_slices(volume: np.ndarray, affine: np.ndarray, point_mm=SLICE_MM) -> list[np.ndarray]:
    """Axial, coronal and sagittal slices of an RAS volume through ``point_mm`` (y, z, x order above)."""
    inv = np.linalg.inv(affine)
    y_mm, z_mm, x_mm = point_mm
    i, j, k = np.rint(inv[:3, :3] @ np.array([x_mm, y_mm, z_mm]) + inv[:3, 3]).astype(int)
    i, j, k = (int(np.clip(v, 0, n - 1)) for v, n in zip((i, j, k), volume.shape))
    return [volume[:, :, k].T, volume[:, j, :].T, volume[i, :, :].T]


def view_slice(volume: np.ndarray, view: str, affine: np.ndarray | None, point_mm: Sequence[float] = SLICE_MM) -> np.ndarray:
    """One 2D slice (for ``imshow`` with ``origin="lower"``) of a (D, H, W) RAS volume.

    ``view``: axial, coronal or sagittal; through ``point_mm`` (coronal y, axial z, sagittal x, mm)
    with the voxel-to-world ``affine`` (4, 4), or through the grid's centre when it is None.
    """
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r} (known: {VIEWS})")
    if affine is not None:
        return orthogonal_slices(volume, np.asarray(affine, dtype=float), tuple(point_mm))[VIEWS.index(view)]
    i, j, k = (n // 2 for n in volume.shape)
    return {"axial": volume[:, :, k].T, "coronal": volume[:, j, :].T, "sagittal": volume[i, :, :].T}[view]


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
    fig, axes = _pyplot().subplots(rows, 6, figsize=(12.0, 2.0 * rows + 0.6), squeeze=False)
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
                    ax.set_title(f"{('real', 'synthetic')[side]} {VIEWS[view]}", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    write_figure(fig, path, dpi)


def montage_indices(n_total: int, n_shown: int, seed: int) -> np.ndarray:
    """``min(n_shown, n_total)`` distinct indices of ``range(n_total)``, drawn at random (seeded), sorted."""
    n = min(int(n_shown), int(n_total))
    return np.sort(np.random.default_rng(seed).choice(int(n_total), size=n, replace=False)) if n > 0 else np.zeros(0, int)


def set_montage(sets: Mapping[str, np.ndarray], path: str | os.PathLike, n_shown: int, seed: int,
                views: Sequence[str] = ("coronal", "axial"), affine: np.ndarray | None = None,
                titles: Mapping[str, str] | None = None, title: str = "", dpi: int = 100) -> None:
    """Write the montage PNG (atomically).

    Args:
        sets: set name -> volumes (N, D, H, W) in [0, 1]; rows in this order.
        n_shown: volumes per set; seed: for :func:`montage_indices`.
        views: one row per set and view; affine: model-ready grid (4, 4) or None.
        titles: set name -> row label (e.g. with the set's mean pairwise RMS); default the name.
        title: figure title.
    Intensities share the grey scale [0, 1]; the sd maps share [0, the largest sd over all sets].
    """
    sets = {name: np.asarray(v) for name, v in sets.items() if len(v)}
    if not sets:
        raise ValueError("set_montage: no set has a volume")
    sds = {name: v.std(axis=0, dtype=np.float64) for name, v in sets.items()}
    sd_max = max(float(s.max()) for s in sds.values()) or 1.0
    rows = [(name, view) for name in sets for view in views]
    fig, axes = _pyplot().subplots(len(rows), int(n_shown) + 1, figsize=(1.6 * (int(n_shown) + 1) + 1.2, 1.6 * len(rows) + 0.6),
                             squeeze=False)
    for r, (name, view) in enumerate(rows):
        volumes = sets[name]
        for c, index in enumerate(montage_indices(len(volumes), n_shown, seed)):
            axes[r, c].imshow(view_slice(volumes[index], view, affine), cmap="gray", origin="lower", vmin=0.0, vmax=1.0)
        axes[r, -1].imshow(view_slice(sds[name], view, affine), cmap="magma", origin="lower", vmin=0.0, vmax=sd_max)
        for ax in axes[r]:
            _bare(ax)
        axes[r, 0].set_ylabel(f"{(titles or {}).get(name, name)}\n{view}", fontsize=7)
    for c in range(int(n_shown)):
        axes[0, c].set_title(f"random volume {c + 1}", fontsize=7)
    axes[0, -1].set_title(f"voxelwise sd (0-{sd_max:.2f})", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    write_figure(fig, path, dpi)


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
    plt = _pyplot()
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
            _bare(ax)
            if column < len(images):
                ax.imshow(np.asarray(images[column], dtype=np.float32).T, cmap="gray", origin="lower", vmin=0.0, vmax=1.0)
        axes[row, 0].set_ylabel(label, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    write_figure(fig, path, dpi)
