"""Atomic writes: a killed process never leaves a half-written file that a later stage trusts.

Every output is first written under a temporary name in the destination's own directory (so the
final ``os.replace`` is a rename on one filesystem), then renamed into place.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

_TMP_PREFIX = ".tmp-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _ordinary_permissions(path: Path, directory: bool) -> None:
    # mkstemp / mkdtemp create private entries (0600 / 0700); outputs get the usual umask mode.
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` when the block succeeds.

    The temporary file keeps the final suffixes (``.nii.gz``, ``.tsv``) so that writers which
    choose a format from the file name still work. On error the temporary file is removed and
    ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes)
    fd, tmp_name = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.exists():
            _ordinary_permissions(tmp, directory=False)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary directory; it replaces ``path`` (if any) when the block succeeds.

    Used for outputs that are whole trees (a BIDS dataset): either the complete new tree is in
    place, or the previous one is.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX + path.name + "-", dir=path.parent))
    try:
        yield tmp
        _ordinary_permissions(tmp, directory=True)
        if path.exists():
            old = path.with_name(_TMP_PREFIX + path.name + "-old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_tsv(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a tab-separated table atomically (no index column, ``n/a`` for missing values, as BIDS asks)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, na_rep="n/a", lineterminator="\n")


def write_json(obj: Any, path: str | os.PathLike) -> None:
    """Write JSON atomically, keys sorted, so identical content gives identical bytes."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_figure(fig: Any, path: str | os.PathLike, dpi: float | None = None, tight: bool = False) -> None:
    """Write a matplotlib figure to ``path`` atomically (format from the suffix, e.g. PNG) and close it.

    ``dpi`` None keeps the figure's own; ``tight`` crops the canvas to the drawn artists.
    """
    import matplotlib.pyplot as plt

    options: dict[str, Any] = {"format": Path(path).suffix.lstrip(".") or "png"}
    if dpi is not None:
        options["dpi"] = dpi
    if tight:
        options["bbox_inches"] = "tight"
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, **options)
    finally:
        plt.close(fig)


def finite_or_none(value: Any) -> Any:
    """Numbers as floats / ints, NaN and inf as None, recursively through dicts and lists (JSON metrics)."""
    if isinstance(value, dict):
        return {str(k): finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def stage_timer_name(address: str) -> str:
    """A DVC stage address as the file name of its timing: ``dvc.yaml:train_vae@AD`` -> ``dvc.yaml_train_vae@AD``."""
    return address.replace("/", "_").replace(":", "_")
