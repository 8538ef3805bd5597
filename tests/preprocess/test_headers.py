"""t1-linear reads any header a real T1w image comes with: orientation, obliquity, data type, file format.

One generated whole-head image with a neck (4 mm, known pose) is stored in each of the ways real
scans arrive, written to disk and read back through :func:`load_t1w`, and registered with the
coarse set-up; each must land within 2.5 mm (mean over the template brain mask) of its true pose:

- FreeSurfer-conformed: LIA orientation, a cube of voxels, ``uint8`` rescaled to 0-255;
- an oblique header (the voxel grid turned 18 degrees about left-right, as a scan planned along the
  AC-PC line stores it), ``float32``;
- ``int16`` uncompressed ``.nii``, and ``.nii.gz``;
- anisotropic voxels (4 x 4 x 5.2 mm: thick slices along the superior axis).
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from medaug.preprocess import t1_linear as t1
from medaug.preprocess.t1_linear import (
    cropped_template,
    native_from_template,
    rotation_about,
    scratch_directory,
)
from medaug.preprocess.validate import load_t1w
from tests.preprocess._whole_head_cases import cases, error_mm, render_case
from tests.preprocess.test_t1_linear import COARSE


@pytest.fixture(scope="module")
def head(repo_params):
    """(image, world_from_mni): a whole-head case with a neck rendered at 4 mm, stored RAS int16."""
    return render_case(cases()[4], repo_params["cohort"], voxel_mm=4.0)


def _reoriented(image: nib.Nifti1Image, code: str) -> nib.Nifti1Image:
    current = nib.orientations.io_orientation(image.affine)
    return image.as_reoriented(nib.orientations.ornt_transform(current, nib.orientations.axcodes2ornt(tuple(code))))


def _as_dtype(image: nib.Nifti1Image, dtype) -> nib.Nifti1Image:
    data = np.asarray(image.dataobj, dtype=np.float32)
    if np.dtype(dtype) == np.uint8:  # FreeSurfer's conform: intensities rescaled to 0-255
        data = np.clip(np.rint(255.0 * data / np.percentile(data, 99.9)), 0, 255)
    out = nib.Nifti1Image(data.astype(dtype), image.affine)
    out.header.set_xyzt_units("mm")
    return out


def _conformed(image: nib.Nifti1Image) -> nib.Nifti1Image:
    """LIA, a cube of voxels (the longest side), uint8: how FreeSurfer's ``mri_convert --conform`` stores it."""
    lia = _reoriented(image, "LIA")
    side = max(lia.shape)
    data = np.zeros((side,) * 3, dtype=np.float32)
    data[: lia.shape[0], : lia.shape[1], : lia.shape[2]] = np.asarray(lia.dataobj, dtype=np.float32)
    return _as_dtype(nib.Nifti1Image(data, lia.affine), np.uint8)


def _oblique(image: nib.Nifti1Image, world_from_mni: np.ndarray, degrees: float = -18.0):
    turn = rotation_about(np.zeros(3), degrees, 0.0)
    return _as_dtype(nib.Nifti1Image(np.asarray(image.dataobj), turn @ image.affine), np.float32), turn @ world_from_mni


def _thick_slices(image: nib.Nifti1Image, factor: float = 1.3) -> nib.Nifti1Image:
    """The same head sampled with slices ``factor`` times thicker along the axis closest to superior."""
    from medaug.preprocess.fov import superior_axis

    axis = superior_axis(image.affine)
    zoom = np.ones(3)
    zoom[axis] = 1.0 / factor
    data = ndimage.zoom(np.asarray(image.dataobj, dtype=np.float32), zoom, order=1)
    affine = np.array(image.affine, dtype=float)
    affine[:3, axis] *= image.shape[axis] / data.shape[axis]
    return _as_dtype(nib.Nifti1Image(data, affine), np.int16)


VARIANTS = ["conformed-LIA-uint8.nii.gz", "oblique-float32.nii.gz", "int16.nii", "int16.nii.gz", "anisotropic.nii.gz"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_t1_linear_recovers_the_pose_whatever_the_header(head, variant, tmp_path):
    image, world_from_mni = head
    if variant.startswith("conformed"):
        stored = _conformed(image)
        assert "".join(nib.aff2axcodes(stored.affine)) == "LIA" and len(set(stored.shape)) == 1
    elif variant.startswith("oblique"):
        stored, world_from_mni = _oblique(image, world_from_mni)
        assert not np.allclose(np.abs(stored.affine[:3, :3]) > 1e-6, np.abs(image.affine[:3, :3]) > 1e-6)
    elif variant.startswith("anisotropic"):
        stored = _thick_slices(image)
        assert np.ptp(nib.affines.voxel_sizes(stored.affine)) > 1.0
    else:
        stored = _as_dtype(image, np.int16)
    path = tmp_path / variant
    nib.save(stored, path)
    loaded = load_t1w(path)
    assert nib.load(path).get_data_dtype() == stored.get_data_dtype()  # stored as such on disk
    with scratch_directory() as workdir:
        estimated = native_from_template(t1.t1_linear(loaded, COARSE, workdir).transform_file)
    mean_mm, max_mm = error_mm(world_from_mni, estimated, cropped_template(COARSE).brain_mask)
    assert mean_mm < 2.5 and max_mm < 5.0, (variant, mean_mm, max_mm)
