"""medaug.preprocess.caps: CAPS file names (Clinica's t1-linear layout)."""

from __future__ import annotations

from medaug.preprocess import caps


def test_caps_paths_follow_clinica_naming(tmp_path):
    crop = caps.crop_image_path(tmp_path, "sub-01", "ses-M000", "MNI152NLin2009aSym")
    assert crop.relative_to(tmp_path).as_posix() == (
        "subjects/sub-01/ses-M000/t1_linear/sub-01_ses-M000_space-MNI152NLin2009aSym_desc-Crop_res-1x1x1_T1w.nii.gz")
    assert caps.affine_path(tmp_path, "sub-01", "ses-M000", "X").name == "sub-01_ses-M000_space-X_res-1x1x1_affine.mat"
    assert caps.affine_path(tmp_path, "sub-01", "ses-M000", "X", 2).name == "sub-01_ses-M000_space-X_res-2x2x2_affine.mat"
    assert caps.crop_sidecar_path(tmp_path, "sub-01", "ses-M000", "X", 2).name == \
        "sub-01_ses-M000_space-X_desc-Crop_res-2x2x2_T1w.json"


def test_find_crop_image_accepts_any_template_space(tmp_path):
    path = caps.crop_image_path(tmp_path, "sub-01", "ses-M000", "MNI152NLin2009cSym")
    path.parent.mkdir(parents=True)
    path.touch()
    assert caps.find_crop_image(tmp_path, "sub-01", "ses-M000") == path
    assert caps.find_crop_image(tmp_path, "sub-02", "ses-M000") is None
    assert caps.list_crop_sessions(tmp_path) == [("sub-01", "ses-M000")]
