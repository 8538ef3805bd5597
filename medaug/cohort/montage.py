"""PNG montages of generated subjects for a person to look at."""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from medaug.io import write_figure  # noqa: E402
from medaug.figures import VIEWS, orthogonal_slices  # noqa: E402


def save_montage(
    volumes: Sequence[np.ndarray], affines: Sequence[np.ndarray], titles: Sequence[str], path: str | os.PathLike
) -> None:
    """One row per volume (RAS, MNI-aligned): axial, coronal, sagittal slices; written atomically."""
    rows = len(volumes)
    fig, axes = plt.subplots(rows, 3, figsize=(7.5, 2.5 * rows), squeeze=False)
    for row, (volume, affine, title) in enumerate(zip(volumes, affines, titles)):
        vmax = float(np.percentile(volume, 99.5)) or 1.0
        for col, (view, name) in enumerate(zip(orthogonal_slices(volume, affine), VIEWS)):
            ax = axes[row, col]
            ax.imshow(view, cmap="gray", origin="lower", vmin=0, vmax=vmax)
            ax.set_axis_off()
            if col == 0:
                ax.set_title(title, fontsize=8, loc="left")
            elif row == 0:
                ax.set_title(name, fontsize=8)
    fig.tight_layout()
    write_figure(fig, path, dpi=80)


def cohort_montage(root: str | os.PathLike, n_per_label: int, path: str | os.PathLike, voxel_size_mm: float = 2.0) -> None:
    """Montage of the first ``n_per_label`` stable CN and AD participants of a generated cohort.

    Each baseline image is brought to MNI space with its ground-truth pose (see
    :mod:`medaug.cohort.align`) so that rows are comparable; titles give trajectory, age, severity.
    """
    import json
    from pathlib import Path

    import nibabel as nib
    import pandas as pd

    from medaug.bids.layout import read_participants, t1w_path
    from medaug.cohort.align import resample_to_template

    root = Path(root)
    participants = read_participants(root, required=("participant_id", "trajectory", "age", "severity"))
    chosen = pd.concat([participants[participants.trajectory == label].head(n_per_label) for label in ("CN", "AD")])
    volumes, affines, titles = [], [], []
    for row in chosen.itertuples():
        image = nib.load(t1w_path(root, row.participant_id, "ses-M000"))
        truth_file = root / "derivatives" / "synth" / row.participant_id / "ses-M000" / f"{row.participant_id}_ses-M000_groundtruth.json"
        world_from_mni = np.asarray(json.loads(truth_file.read_text())["world_from_mni"])
        volume, affine = resample_to_template(image.get_fdata(dtype=np.float32), image.affine, world_from_mni, voxel_size_mm)
        volumes.append(volume)
        affines.append(affine)
        titles.append(f"{row.participant_id} {row.trajectory} age {row.age:.0f} severity {row.severity:.2f}")
    save_montage(volumes, affines, titles, path)
