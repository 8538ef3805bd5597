"""CAPS paths of t1-linear outputs, named as clinica's ``t1-linear`` pipeline names them.

Layout::

    <caps>/subjects/sub-X/ses-Y/t1_linear/
        sub-X_ses-Y_space-<space>_desc-Crop_res-1x1x1_T1w.nii.gz   registered, cropped (169x208x179)
        sub-X_ses-Y_space-<space>_desc-Crop_res-1x1x1_T1w.json     sidecar: how the pose was found
        sub-X_ses-Y_space-<space>_res-1x1x1_affine.mat             ANTs/ITK affine (template -> native)

``res-1x1x1`` names the template resolution in mm: a crop on the 2 mm template is ``res-2x2x2``.

``<space>`` is the template actually used (``MNI152NLin2009aSym`` here, ``MNI152NLin2009cSym`` in
a CAPS made by clinica). :func:`find_crop_image` accepts any space so an existing clinica CAPS can be
used as input.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from medaug.io import write_json

PIPELINE_DIR = "t1_linear"


def t1_linear_dir(caps_dir: str | Path, participant_id: str, session_id: str) -> Path:
    """``<caps>/subjects/sub-X/ses-Y/t1_linear``: the folder of one image's t1-linear outputs (clinica's names)."""
    return Path(caps_dir) / "subjects" / participant_id / session_id / PIPELINE_DIR


def _res(resolution_mm: int) -> str:
    return "res-" + "x".join([str(int(resolution_mm))] * 3)


def crop_image_path(caps_dir: str | Path, participant_id: str, session_id: str, space: str,
                    resolution_mm: int = 1) -> Path:
    """``.../t1_linear/sub-X_ses-Y_space-<space>_desc-Crop_res-1x1x1_T1w.nii.gz`` (``res-RxRxR``, R in mm)."""
    name = f"{participant_id}_{session_id}_space-{space}_desc-Crop_{_res(resolution_mm)}_T1w.nii.gz"
    return t1_linear_dir(caps_dir, participant_id, session_id) / name


def crop_sidecar_path(caps_dir: str | Path, participant_id: str, session_id: str, space: str,
                      resolution_mm: int = 1) -> Path:
    """The JSON sidecar of :func:`crop_image_path` (``.json`` instead of ``.nii.gz``)."""
    crop = crop_image_path(caps_dir, participant_id, session_id, space, resolution_mm)
    return crop.with_name(crop.name.replace(".nii.gz", ".json"))


def affine_path(caps_dir: str | Path, participant_id: str, session_id: str, space: str,
                resolution_mm: int = 1) -> Path:
    """``.../t1_linear/sub-X_ses-Y_space-<space>_res-1x1x1_affine.mat`` (``res-RxRxR``, R in mm)."""
    name = f"{participant_id}_{session_id}_space-{space}_{_res(resolution_mm)}_affine.mat"
    return t1_linear_dir(caps_dir, participant_id, session_id) / name


def find_crop_image(caps_dir: str | Path, participant_id: str, session_id: str) -> Path | None:
    """The session's ``desc-Crop`` T1w image in any template space, or ``None`` if there is none.

    Raises ``ValueError`` when several spaces are present (ambiguous input).
    """
    pattern = f"{participant_id}_{session_id}_space-*_desc-Crop_res-*_T1w.nii.gz"
    found = sorted(t1_linear_dir(caps_dir, participant_id, session_id).glob(pattern))
    if len(found) > 1:
        raise ValueError(f"several desc-Crop images for {participant_id} {session_id}: {[p.name for p in found]}")
    return found[0] if found else None


def list_crop_sessions(caps_dir: str | Path) -> list[tuple[str, str]]:
    """Every (participant_id, session_id) with a ``desc-Crop`` T1w image in the CAPS, sorted."""
    root = Path(caps_dir) / "subjects"
    pairs = {
        (p.parts[-4], p.parts[-3])
        for p in root.glob(f"sub-*/ses-*/{PIPELINE_DIR}/*_space-*_desc-Crop_res-*_T1w.nii.gz")
    }
    return sorted(pairs)


def write_caps_description(caps_dir: str | Path, name: str) -> None:
    """Top-level ``dataset_description.json`` marking the folder as a CAPS derivative."""
    write_json({"Name": name, "DatasetType": "derivative", "PipelineDescription": {"Name": "medaug t1-linear"}},
               Path(caps_dir) / "dataset_description.json")


def save_nifti(image: nib.Nifti1Image, path: Path) -> None:
    """Save a float32 NIfTI image (helper so every CAPS image has the same header conventions)."""
    out = nib.Nifti1Image(np.asarray(image.dataobj, dtype=np.float32), image.affine)
    out.header.set_xyzt_units("mm")
    out.header.set_qform(image.affine, code=4)  # 4 = MNI152 space
    out.header.set_sform(image.affine, code=4)
    nib.save(out, path)
