"""Montage of one label: a few random volumes of every set side by side, and each set's voxelwise sd.

One row per (set, view): the real training volumes, their rank-d PCA reconstructions and every
sampler's synthetic volumes. The volumes shown are drawn at random (seeded, the same rule for every
set, so the real training row and its PCA row show the same participants), not the first ones, so
a person sees whether a set's samples differ; the last column is the
voxelwise standard deviation over the *whole* set, which is black for a collapsed generator whatever
volumes were drawn. Slices go through the right hippocampus (where the demo's AD atrophy shows)
when the grid's affine is known, else through the centre of the grid.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from medaug.io import write_figure  # noqa: E402
from medaug.slices import SLICE_MM, orthogonal_slices  # noqa: E402

VIEWS = ("axial", "coronal", "sagittal")


def montage_indices(n_total: int, n_shown: int, seed: int) -> np.ndarray:
    """``min(n_shown, n_total)`` distinct indices of ``range(n_total)``, drawn at random (seeded), sorted."""
    n = min(int(n_shown), int(n_total))
    return np.sort(np.random.default_rng(seed).choice(int(n_total), size=n, replace=False)) if n > 0 else np.zeros(0, int)


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
    fig, axes = plt.subplots(len(rows), int(n_shown) + 1, figsize=(1.6 * (int(n_shown) + 1) + 1.2, 1.6 * len(rows) + 0.6),
                             squeeze=False)
    for r, (name, view) in enumerate(rows):
        volumes = sets[name]
        for c, index in enumerate(montage_indices(len(volumes), n_shown, seed)):
            axes[r, c].imshow(view_slice(volumes[index], view, affine), cmap="gray", origin="lower", vmin=0.0, vmax=1.0)
        axes[r, -1].imshow(view_slice(sds[name], view, affine), cmap="magma", origin="lower", vmin=0.0, vmax=sd_max)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
        axes[r, 0].set_ylabel(f"{(titles or {}).get(name, name)}\n{view}", fontsize=7)
    for c in range(int(n_shown)):
        axes[0, c].set_title(f"random volume {c + 1}", fontsize=7)
    axes[0, -1].set_title(f"voxelwise sd (0-{sd_max:.2f})", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    write_figure(fig, path, dpi)
