"""medaug.preprocess.validate: an input T1w image is checked before any work is spent on it."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medaug.preprocess.validate import InvalidImageError, load_t1w


def _save(path: Path, data: np.ndarray, affine: np.ndarray | None = None) -> Path:
    nib.save(nib.Nifti1Image(data, np.diag([2.0, 2.0, 2.0, 1.0]) if affine is None else affine), path)
    return path


def _good(shape=(20, 24, 22)) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 100, shape).astype(np.float32)


def test_load_t1w_accepts_a_good_image_and_a_singleton_4d(tmp_path):
    assert load_t1w(_save(tmp_path / "a.nii.gz", _good())).shape == (20, 24, 22)
    assert load_t1w(_save(tmp_path / "b.nii.gz", _good()[..., None])).shape == (20, 24, 22)


@pytest.mark.parametrize(
    ("case", "message"),
    [("truncated", "truncated"), ("garbage", "unreadable"), ("4d", "3D"), ("nan", "NaN/Inf"), ("inf", "NaN/Inf"),
     ("empty", "empty"), ("missing", "not found"), ("shear", "shear")],
)
def test_load_t1w_rejects_bad_input_with_the_file_name(tmp_path, case, message):
    path = tmp_path / f"sub-{case}_T1w.nii.gz"
    if case == "truncated":
        _save(path, _good())
        path.write_bytes(path.read_bytes()[:400])
    elif case == "garbage":
        path.write_bytes(gzip.compress(b"not a nifti file at all" * 20))
    elif case == "4d":
        _save(path, np.stack([_good()] * 3, axis=-1))
    elif case in ("nan", "inf"):
        data = _good()
        data[3, 4, 5] = np.nan if case == "nan" else np.inf
        _save(path, data)
    elif case == "empty":
        _save(path, np.zeros((20, 24, 22), np.float32))
    elif case == "shear":
        affine = np.diag([2.0, 2.0, 2.0, 1.0])
        affine[0, 1] = 0.5
        _save(path, _good(), affine)
    with pytest.raises(InvalidImageError) as info:
        load_t1w(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_load_t1w_rejects_a_tiny_image_and_a_singular_affine_naming_the_file(tmp_path):
    small = _save(tmp_path / "sub-small_T1w.nii.gz", _good((20, 7, 22)))
    with pytest.raises(InvalidImageError, match=r"sub-small_T1w.nii.gz: too small \(\(20, 7, 22\) voxels; need >= 8"):
        load_t1w(small)
    image = nib.Nifti1Image(_good(), None)   # nibabel refuses to write a singular qform: an sform only
    image.header.set_sform(np.diag([2.0, 2.0, 0.0, 1.0]), code=1)
    image.header.set_qform(None, code=0)
    singular = tmp_path / "sub-flat_T1w.nii.gz"
    nib.save(image, singular)
    with pytest.raises(InvalidImageError, match="sub-flat_T1w.nii.gz: singular voxel-to-world affine"):
        load_t1w(singular)


def test_load_t1w_keeps_the_voxels_and_the_affine_as_float32_in_mm(tmp_path):
    affine = np.array([[0, 0, -1.2, 90], [-1.0, 0, 0, 120], [0, 1.0, 0, -100], [0, 0, 0, 1]])  # PSL, anisotropic
    data = np.arange(20 * 24 * 22, dtype=np.int16).reshape(20, 24, 22)
    image = load_t1w(_save(tmp_path / "sub-psl_T1w.nii.gz", data, affine))
    assert image.get_data_dtype() == np.float32 and image.header.get_xyzt_units()[0] == "mm"
    np.testing.assert_array_equal(np.asarray(image.dataobj), data.astype(np.float32))
    np.testing.assert_allclose(image.affine, affine)
