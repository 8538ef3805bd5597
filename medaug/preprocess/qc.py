"""Quality control of registered images: NCC with the template, and a montage for a person to scan."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

from medaug.io import write_figure


def normalised_cross_correlation(image: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> float:
    """Pearson correlation of two same-shape volumes over the voxels where ``mask`` is true, in [-1, 1].

    Returns 0.0 when either volume is constant inside the mask.
    """
    inside = np.asarray(mask) > 0
    a = np.asarray(image, dtype=np.float64)[inside]
    b = np.asarray(reference, dtype=np.float64)[inside]
    a = a - a.mean()
    b = b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


def resample_to(image: nib.Nifti1Image, shape: Sequence[int], affine: np.ndarray, order: int = 1) -> np.ndarray:
    """``image`` sampled (world-coordinate aligned) on the grid ``shape`` / ``affine``; zero outside."""
    data = np.asarray(image.dataobj, dtype=np.float32)
    if tuple(shape) == data.shape and np.allclose(affine, image.affine, atol=1e-4):
        return data
    voxel_map = np.linalg.inv(image.affine) @ np.asarray(affine, dtype=float)
    grid = np.indices(tuple(shape), dtype=np.float32).reshape(3, -1)
    coords = voxel_map[:3, :3] @ grid + voxel_map[:3, 3:4]
    return ndimage.map_coordinates(data, coords, order=order, mode="constant", cval=0.0).reshape(tuple(shape))


def template_ncc(image: nib.Nifti1Image, template: nib.Nifti1Image, brain_mask: nib.Nifti1Image) -> float:
    """NCC of a registered image with the template inside the template's brain mask.

    The template and mask are resampled onto the image's grid when the grids differ (e.g. a CAPS
    made by clinica on another crop box), so any image already in MNI space can be scored.
    """
    data = np.asarray(image.dataobj, dtype=np.float32)
    reference = resample_to(template, data.shape, image.affine)
    mask = resample_to(brain_mask, data.shape, image.affine, order=0) > 0
    return normalised_cross_correlation(data, reference, mask)


def _outline(mask_slice: np.ndarray) -> np.ndarray:
    inside = mask_slice > 0
    return inside & ~ndimage.binary_erosion(inside)


def _tile(volume: np.ndarray, mask: np.ndarray, centre: Sequence[int], zoom: int) -> np.ndarray:
    """RGB strip (H, W, 3) of the sagittal, coronal and axial slices through ``centre``, outline in red."""
    panels = []
    for axis in range(3):
        index = [slice(None)] * 3
        index[axis] = int(centre[axis])
        image = np.rot90(volume[tuple(index)])  # first remaining axis left-right, second bottom-up
        outline = np.rot90(_outline(mask[tuple(index)]))
        low, high = np.percentile(image, [0.5, 99.5])
        grey = np.clip((image - low) / (high - low if high > low else 1.0), 0, 1)
        rgb = np.repeat(grey[..., None], 3, axis=2)
        rgb[outline] = (1.0, 0.1, 0.1)
        panels.append(np.kron(rgb, np.ones((zoom, zoom, 1))))
    height = max(p.shape[0] for p in panels)
    padded = [np.pad(p, ((height - p.shape[0], 0), (0, 2), (0, 0))) for p in panels]
    return np.concatenate(padded, axis=1)


def save_qc_montage(path: str | Path, volumes: Sequence[np.ndarray], brain_mask: np.ndarray,
                    labels: Sequence[str], flagged: Sequence[bool], row_height_px: int = 96) -> None:
    """Write a PNG with one row per volume: three orthogonal slices with the template brain outline.

    ``volumes`` are (D, H, W) on the grid of ``brain_mask``; ``labels`` (one or more lines: a flagged
    image's second line says why) are written left of each row, in red when ``flagged``. Slices pass through the mask's centre of mass. Written atomically.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mask = np.asarray(brain_mask) > 0
    centre = np.round(ndimage.center_of_mass(mask)).astype(int) if mask.any() else np.asarray(mask.shape) // 2
    zoom = max(1, int(np.ceil(row_height_px / max(mask.shape))))
    rows = [_tile(np.asarray(v, dtype=np.float32), mask, centre, zoom) for v in volumes]
    if not rows:
        rows = [np.zeros((row_height_px, 3 * row_height_px, 3))]
        labels, flagged = ["(no image)"], [False]
    canvas = np.concatenate([np.pad(r, ((0, 4), (0, 0), (0, 0))) for r in rows], axis=0)
    longest = max((len(line) for label in labels for line in str(label).splitlines()), default=0)
    label_px, dpi = max(220, int(6.5 * longest) + 12), 100  # about 6.5 px per character at font size 8
    fig = plt.figure(figsize=((canvas.shape[1] + label_px) / dpi, canvas.shape[0] / dpi), dpi=dpi)
    axes = fig.add_axes((label_px / (canvas.shape[1] + label_px), 0, 1 - label_px / (canvas.shape[1] + label_px), 1))
    axes.imshow(canvas, interpolation="nearest", aspect="equal")
    axes.set_axis_off()
    row_px = canvas.shape[0] / len(rows)
    for i, (label, bad) in enumerate(zip(labels, flagged)):
        fig.text(0.005, 1 - (i + 0.5) * row_px / canvas.shape[0], label, fontsize=8, va="center",
                 color="red" if bad else "black")
    write_figure(fig, path, dpi)
