"""Model-ready volumes: down-sampling, min-max rescaling, and the per-cohort memory-mappable stack.

A cohort's model-ready volumes are stored as three files sharing a prefix::

    <prefix>.npy    float32 array (N, D, H, W), one image per row; open with ``mmap_mode="r"``
    <prefix>.tsv    participant_id, session_id, row   (row = index along the first axis)
    <prefix>.json   shape, voxel-to-world affine of one volume (RAS mm), template space, voxel size

so a training loop reads ``stack[row]`` without decoding any NIfTI file.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

from medaug.bids.layout import read_table
from medaug.io import atomic_path, write_json, write_tsv

logger = logging.getLogger(__name__)


def downsample(volume: np.ndarray, target_shape: Sequence[int], antialias: bool = True) -> np.ndarray:
    """Trilinear resampling of a 3D volume (D, H, W) to ``target_shape`` (voxel-centre aligned).

    Voxel centres map as in ``torch.nn.functional.interpolate(..., align_corners=False)``: the
    output grid covers the same field of view with larger voxels. With ``antialias`` the volume is
    first smoothed with a Gaussian of sigma ``(factor - 1) / 2`` voxels per axis, so a factor of 4
    averages its whole footprint instead of sampling two voxels out of four.
    Returns float32 of shape ``target_shape``.
    """
    volume = np.asarray(volume, dtype=np.float32)
    target = np.asarray(target_shape, dtype=int)
    if volume.ndim != 3 or target.shape != (3,) or np.any(target < 1):
        raise ValueError(f"expected a 3D volume and a 3D target shape, got {volume.shape} -> {tuple(target)}")
    factors = np.asarray(volume.shape, dtype=float) / target
    if antialias and np.any(factors > 1):
        volume = ndimage.gaussian_filter(volume, sigma=np.maximum(0.0, (factors - 1.0) / 2.0), mode="nearest")
    axes = [(np.arange(n) + 0.5) * f - 0.5 for n, f in zip(target, factors)]
    coords = np.meshgrid(*axes, indexing="ij")
    return ndimage.map_coordinates(volume, coords, order=1, mode="nearest").astype(np.float32)


def downsampled_affine(affine: np.ndarray, shape: Sequence[int], target_shape: Sequence[int]) -> np.ndarray:
    """Voxel-to-world affine of :func:`downsample`'s output, given the input's affine and shape."""
    factors = np.asarray(shape, dtype=float) / np.asarray(target_shape, dtype=float)
    voxel_map = np.diag([*factors, 1.0])
    voxel_map[:3, 3] = (factors - 1.0) / 2.0
    return np.asarray(affine, dtype=float) @ voxel_map


def min_max_rescale(volume: np.ndarray, percentiles: Sequence[float] = (0.0, 100.0)) -> np.ndarray:
    """Rescale to [0, 1]: ``(x - low) / (high - low)`` with low/high the given percentiles, clipped.

    ``(0, 100)`` is the plain per-image min-max of the thesis. A constant volume raises ``ValueError``.
    """
    volume = np.asarray(volume, dtype=np.float32)
    low, high = (float(v) for v in np.percentile(volume, list(percentiles)))
    if not high > low:
        raise ValueError("cannot rescale a constant volume")
    return np.clip((volume - low) / (high - low), 0.0, 1.0).astype(np.float32)


def dilated_mask(mask: np.ndarray, voxel_size_mm: Sequence[float], dilation_mm: float) -> np.ndarray:
    """Every voxel within ``dilation_mm`` (mm, Euclidean) of the binary ``mask`` (D, H, W): bool (D, H, W).

    ``voxel_size_mm`` gives the grid spacing per axis, so an anisotropic grid dilates by the same
    distance in every direction. ``dilation_mm`` 0 returns the mask itself.
    """
    mask = np.asarray(mask) > 0
    if not mask.any():
        raise ValueError("cannot dilate an empty brain mask")
    if dilation_mm < 0:
        raise ValueError(f"dilation_mm must be >= 0, got {dilation_mm}")
    if dilation_mm == 0:
        return mask
    distance = ndimage.distance_transform_edt(~mask, sampling=[float(v) for v in voxel_size_mm])
    return distance <= float(dilation_mm)


def model_ready_volume(volume: np.ndarray, target_shape: Sequence[int] | None, antialias: bool,
                       percentiles: Sequence[float], brain_mask: np.ndarray | None = None) -> np.ndarray:
    """Mask (when ``brain_mask`` is given), down-sample (unless ``target_shape`` is None), then
    min-max rescale one cropped volume (D, H, W).

    ``brain_mask`` (bool, the crop's shape) zeroes every voxel outside it before down-sampling, so
    the scalp, skull, face and neck, which vary between scanners and heads but carry no disease
    signal, do not reach the generative models or the classifiers; the anti-aliasing filter then
    softens the mask's edge. The rescaling range comes from the masked volume (the brain).
    """
    if brain_mask is not None:
        if brain_mask.shape != volume.shape:
            raise ValueError(f"brain mask shape {brain_mask.shape} differs from the volume's {volume.shape}")
        volume = np.where(brain_mask, volume, 0.0).astype(np.float32)
    if target_shape is not None:
        volume = downsample(volume, target_shape, antialias)
    return min_max_rescale(volume, percentiles)


def stack_paths(prefix: str | Path) -> tuple[Path, Path, Path]:
    """(``.npy``, ``.tsv``, ``.json``) paths of a stack."""
    prefix = Path(prefix)
    return (prefix.with_name(prefix.name + ".npy"), prefix.with_name(prefix.name + ".tsv"),
            prefix.with_name(prefix.name + ".json"))


def write_stack(prefix: str | Path, volumes: Sequence[np.ndarray], index: pd.DataFrame, metadata: dict) -> None:
    """Write the (N, D, H, W) float32 stack, its index (row added) and metadata, each atomically.

    ``index`` has one row per volume, in order, with ``participant_id`` and ``session_id``.
    """
    if len(volumes) != len(index):
        raise ValueError(f"{len(volumes)} volumes but {len(index)} index rows")
    shape = tuple(volumes[0].shape) if len(volumes) else tuple(metadata.get("shape", (0, 0, 0)))
    array_path, index_path, meta_path = stack_paths(prefix)
    with atomic_path(array_path) as tmp:
        stack = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(len(volumes), *shape))
        for row, volume in enumerate(volumes):
            stack[row] = volume
        stack.flush()
        del stack
    index = index.reset_index(drop=True).copy()
    index["row"] = np.arange(len(index), dtype=int)
    write_tsv(index, index_path)
    write_json({**metadata, "shape": list(shape), "n_images": len(volumes), "dtype": "float32"}, meta_path)


class ModelReadyError(ValueError):
    """A model-ready stack that is missing, inconsistent with its index, or lacks a session asked for."""


def load_stack(prefix: str | Path, mmap: bool = True) -> tuple[np.ndarray, pd.DataFrame, dict]:
    """Read a stack written by :func:`write_stack`: the one reader of this format.

    Returns (stack (N, D, H, W) float32, memory-mapped by default; index table with
    ``participant_id``, ``session_id`` (str) and ``row``; metadata dict). Raises
    :class:`ModelReadyError` naming the file when one of the three is missing or the stack's
    shape does not match the index.
    """
    array_path, index_path, meta_path = stack_paths(prefix)
    for path in (array_path, index_path, meta_path):
        if not path.is_file():
            raise ModelReadyError(f"{path}: model-ready stack not found (run the preprocess stage)")
    index = read_table(index_path, ("participant_id", "session_id", "row"))
    index = index.astype({"participant_id": str, "session_id": str})
    stack = np.load(array_path, mmap_mode="r" if mmap else None)
    if stack.ndim != 4 or len(index) != stack.shape[0]:
        raise ModelReadyError(f"{array_path}: shape {stack.shape} does not match the {len(index)} rows of {index_path}")
    metadata = json.loads(meta_path.read_text())
    return stack, index, metadata


def session_rows(index: pd.DataFrame, sessions: pd.DataFrame, where: str,
                 excluded: set[tuple[str, str]] = frozenset()) -> tuple[np.ndarray, pd.DataFrame]:
    """The stack rows of the sessions listed in ``sessions`` (a split table read from ``where``).

    Sessions in ``excluded`` (left out by the preprocessing QC, see :func:`qc_excluded_sessions`)
    are dropped with a logged warning. Returns (rows, int array (M,); the kept rows of ``sessions``,
    in the same order, index reset). Raises :class:`ModelReadyError` naming ``where`` and the first
    session that has no volume, or the missing columns.
    """
    missing = {"participant_id", "session_id"} - set(sessions.columns)
    if missing:
        raise ModelReadyError(f"{where}: missing column(s) {sorted(missing)}")
    keys = sessions[["participant_id", "session_id"]].astype(str)
    if excluded:
        keep = np.array([key not in excluded for key in zip(keys["participant_id"], keys["session_id"])], dtype=bool)
        if not keep.all():
            logger.warning("%s: %d session(s) left out by preprocessing QC: %s", where, int((~keep).sum()),
                           ", ".join(keys["participant_id"][~keep]))
            sessions, keys = sessions[keep], keys[keep]
    merged = keys.merge(index[["participant_id", "session_id", "row"]], on=["participant_id", "session_id"],
                        how="left", validate="many_to_one")
    lacking = merged["row"].isna()
    if lacking.any():
        first = merged[lacking].iloc[0]
        raise ModelReadyError(f"{where}: no model-ready volume for {int(lacking.sum())} session(s), first "
                              f"{first['participant_id']} {first['session_id']}")
    return merged["row"].astype(int).to_numpy(), sessions.reset_index(drop=True)


def qc_excluded_sessions(prefix: str | Path) -> set[tuple[str, str]]:
    """Sessions the preprocess stage left out of the model-ready stack on purpose (QC flag).

    Read from ``images.tsv`` next to the stack (column ``in_model_ready``); empty if absent.
    """
    path = Path(prefix).parent / "images.tsv"
    if not path.is_file():
        return set()
    table = read_table(path, ("participant_id", "session_id", "in_model_ready"))
    left_out = table[~table["in_model_ready"].astype(str).str.lower().isin(["true", "1"])]
    return set(zip(left_out["participant_id"].astype(str), left_out["session_id"].astype(str)))
