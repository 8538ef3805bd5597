"""The ``preprocess`` stage end to end on a tiny BIDS dataset with good and bad images, and on a CAPS."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml

from medaug.preprocess import caps
from medaug.preprocess.model_ready import load_stack
from medaug.preprocess.stage import PreprocessFailure
from medaug.preprocess.template import load_template
from pipelines import preprocess as stage
from tests.preprocess._fixtures import write_synthetic_t1w
from tests.preprocess.test_t1_linear import COARSE

T1W = "{root}/{pid}/ses-M000/anat/{pid}_ses-M000_T1w.nii.gz"


def _params(tmp_path: Path, **overrides) -> Path:
    t1 = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(COARSE).items()}
    params = {
        "cohorts": ["tiny"], "bids_dir": str(tmp_path / "bids"), "caps_dir": str(tmp_path / "caps"),
        "out_dir": str(tmp_path / "out"), "metrics_dir": str(tmp_path / "metrics"), "input": "bids", "sessions_tsv": None, "session_id": "ses-M000",
        "n_jobs": 1, "itk_threads": 1, "force": False, "allow_failures": False, "qc_ncc_threshold": 0.5, "qc_head_fit_threshold": 0.75, "qc_pose_check_mm": 3.0,
        "exclude_qc_flagged": True, "target_shape": [21, 26, 22], "antialias": True,
        "rescale_percentiles": [0.0, 100.0], "model_ready_brain_mask_mm": None, "t1_linear": t1,
    }
    params.update(overrides)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"preprocess": params}))
    return path


def _bad_images(root: Path) -> None:
    good = Path(T1W.format(root=root, pid="sub-01"))
    paths = {pid: Path(T1W.format(root=root, pid=pid)) for pid in ("sub-90", "sub-91", "sub-92", "sub-93")}
    for path in paths.values():
        path.parent.mkdir(parents=True)
    paths["sub-90"].write_bytes(good.read_bytes()[:3000])  # truncated .nii.gz
    image = nib.load(good)
    data = np.asarray(image.dataobj, dtype=np.float32)
    nib.save(nib.Nifti1Image(np.stack([data, data], -1), image.affine), paths["sub-91"])  # 4D
    data_nan = data.copy()
    data_nan[10, 10, 10] = np.nan
    nib.save(nib.Nifti1Image(data_nan, image.affine), paths["sub-92"])
    nib.save(nib.Nifti1Image(np.zeros_like(data), image.affine), paths["sub-93"])  # empty


@pytest.fixture(scope="module")
def tiny_bids(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bids") / "tiny"
    for seed, pid in ((31, "sub-01"), (32, "sub-02")):
        write_synthetic_t1w(Path(T1W.format(root=root, pid=pid)), seed, voxel_mm=4.0, flip_x=pid == "sub-02")
    _bad_images(root)
    return root


def _copy_tree(source: Path, target: Path) -> None:
    import shutil

    shutil.copytree(source, target)


def test_stage_records_bad_images_keeps_good_ones_and_is_idempotent(tmp_path, tiny_bids):
    _copy_tree(tiny_bids, tmp_path / "bids" / "tiny")
    params = _params(tmp_path)

    with pytest.raises(PreprocessFailure, match=r"^4 image\(s\) failed") as failure:
        stage.main(["--params", str(params)])
    err = str(failure.value)
    for pid in ("sub-90", "sub-91", "sub-92", "sub-93"):
        assert f"{pid}_ses-M000_T1w.nii.gz" in err

    table = pd.read_csv(tmp_path / "out/tiny/images.tsv", sep="\t").set_index("participant_id")
    assert list(table.index) == ["sub-01", "sub-02", "sub-90", "sub-91", "sub-92", "sub-93"]
    assert list(table.loc[["sub-01", "sub-02"], "status"]) == ["ok", "ok"]
    assert (table.loc[["sub-01", "sub-02"], "ncc"] > 0.8).all()
    messages = table["error"]
    assert "truncated" in messages["sub-90"] and "3D" in messages["sub-91"]
    assert "NaN" in messages["sub-92"] and "empty" in messages["sub-93"]

    stack, index, meta = load_stack(tmp_path / "out/tiny/model_ready")
    assert stack.shape == (2, 21, 26, 22) and list(index["participant_id"]) == ["sub-01", "sub-02"]
    assert float(stack.min()) == 0.0 and float(stack.max()) == 1.0
    assert meta["space"] == "MNI152NLin2009aSym" and len(meta["affine"]) == 4
    assert (tmp_path / "out/tiny/qc_montage.png").stat().st_size > 1000
    where = (tmp_path / "caps/tiny", "sub-01", "ses-M000", "MNI152NLin2009aSym", COARSE.template_resolution_mm)
    crop = caps.crop_image_path(*where)  # res-2x2x2: the test's template grid is 2 mm
    assert crop.is_file() and caps.affine_path(*where).is_file()
    assert json.loads(caps.crop_sidecar_path(*where).read_text()) == {"PoseAdopted": False}
    assert not caps.t1_linear_dir(tmp_path / "caps/tiny", "sub-90", "ses-M000").exists()
    assert not list((tmp_path / "caps").rglob(".tmp-*")) and not list((tmp_path / "out").rglob(".tmp-*"))

    # second run: finished images are reused, not registered again; failures tolerated when allowed
    mtime = crop.stat().st_mtime_ns
    first_table = (tmp_path / "out/tiny/images.tsv").read_bytes()
    assert stage.main(["--params", str(_params(tmp_path, allow_failures=True))]) == 0
    again = pd.read_csv(tmp_path / "out/tiny/images.tsv", sep="\t").set_index("participant_id")
    assert crop.stat().st_mtime_ns == mtime
    # images.tsv holds no run-dependent column (reuse, seconds): a rerun writes the same bytes
    assert (tmp_path / "out/tiny/images.tsv").read_bytes() == first_table
    summary = json.loads((tmp_path / "metrics/tiny.json").read_text())
    assert summary["reused"] == summary["images"] - 4 and summary["median_seconds_per_image"] is None
    assert again.loc["sub-01", "ncc"] == pytest.approx(table.loc["sub-01", "ncc"])


def test_stage_follows_a_session_list_and_flags_low_ncc(tmp_path, tiny_bids):
    _copy_tree(tiny_bids, tmp_path / "bids" / "tiny")
    labels = tmp_path / "labels_tiny.tsv"
    pd.DataFrame({"participant_id": ["sub-02"], "session_id": ["ses-M000"], "diagnosis": ["AD"]}).to_csv(
        labels, sep="\t", index=False)
    params = _params(tmp_path, sessions_tsv=str(tmp_path / "labels_{cohort}.tsv"), qc_ncc_threshold=0.999)
    assert stage.main(["--params", str(params)]) == 0  # a QC flag is not a failure
    table = pd.read_csv(tmp_path / "out/tiny/images.tsv", sep="\t")
    assert list(table["participant_id"]) == ["sub-02"] and list(table["status"]) == ["qc_flagged"]
    stack, index, _ = load_stack(tmp_path / "out/tiny/model_ready")
    assert stack.shape[0] == 0 and index.empty  # flagged images are excluded downstream

    assert stage.main(["--params", str(_params(tmp_path, sessions_tsv=str(labels), qc_ncc_threshold=0.999,
                                               exclude_qc_flagged=False))]) == 0
    assert load_stack(tmp_path / "out/tiny/model_ready")[0].shape[0] == 1


def test_stage_accepts_an_existing_clinica_caps(tmp_path):
    """desc-Crop images in clinica's layout (another template space) are scored and stacked as they are."""
    template = load_template(2)
    box_image = template.image.slicer[7:92, 7:111, 0:90]  # any MNI-space crop on the template grid
    caps_dir = tmp_path / "caps" / "tiny"
    rng = np.random.default_rng(0)
    for pid in ("sub-A", "sub-B"):
        path = caps.crop_image_path(caps_dir, pid, "ses-M000", "MNI152NLin2009cSym")
        path.parent.mkdir(parents=True)
        data = np.asarray(box_image.dataobj) * 900 + rng.normal(0, 20, box_image.shape)
        nib.save(nib.Nifti1Image(data.astype(np.float32), box_image.affine), path)
    assert stage.main(["--params", str(_params(tmp_path, input="caps"))]) == 0
    table = pd.read_csv(tmp_path / "out/tiny/images.tsv", sep="\t")
    assert list(table["status"]) == ["ok", "ok"] and (table["ncc"] > 0.95).all()
    assert json.loads((tmp_path / "metrics/tiny.json").read_text())["reused"] == 2
    stack, index, _ = load_stack(tmp_path / "out/tiny/model_ready")
    assert stack.shape == (2, 21, 26, 22) and list(index["participant_id"]) == ["sub-A", "sub-B"]


def test_stage_names_a_cohort_without_images_and_refuses_an_unknown_input(tmp_path):
    from medaug.preprocess.stage import run

    (tmp_path / "bids" / "tiny").mkdir(parents=True)
    params = yaml.safe_load(_params(tmp_path).read_text())["preprocess"]
    with pytest.raises(PreprocessFailure, match="tiny: no ses-M000 T1w image found"):
        run(params)
    assert run({**params, "allow_failures": True}) == ["tiny: no ses-M000 T1w image found"]
    with pytest.raises(ValueError, match="preprocess.input must be 'bids' or 'caps', not 'raw'"):
        run({**params, "input": "raw"})
