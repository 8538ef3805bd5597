"""medaug.cohort.montage: montages of generated subjects, each brought to MNI space with its true pose."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image
import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from medaug.bids.layout import BIDSError, t1w_path
from medaug.cohort import montage
from medaug.cohort.align import template_grid
from medaug.cohort.montage import cohort_montage, save_montage


def _volume(seed: int) -> tuple[np.ndarray, np.ndarray]:
    shape, affine = template_grid(4.0)
    return np.random.default_rng(seed).uniform(size=shape).astype(np.float32), affine


def test_save_montage_writes_one_row_of_three_views_per_volume(tmp_path: Path) -> None:
    volumes, affines = zip(*(_volume(i) for i in range(3)))
    save_montage(volumes[:1], affines[:1], ["one"], tmp_path / "one.png")
    save_montage(volumes, affines, ["a", "b", "c"], tmp_path / "three.png")
    one, three = (matplotlib.image.imread(tmp_path / name) for name in ("one.png", "three.png"))
    assert (one.shape[0], one.shape[1]) == (200, 600)      # 7.5 x 2.5 inches per row at 80 dpi
    assert (three.shape[0], three.shape[1]) == (600, 600)
    assert not list(tmp_path.glob(".tmp-*"))


def _cohort(root: Path) -> None:
    """Three CN, one MCI and two AD participants; each baseline image on the 4 mm template grid, shifted
    in world space by its (known) pose."""
    rows = []
    for k, trajectory in enumerate(["MCI", "CN", "AD", "CN", "AD", "CN"]):
        participant = f"sub-T{k:02d}"
        rows.append({"participant_id": participant, "trajectory": trajectory, "age": 70.0 + k, "severity": 0.1 * k})
        data, affine = _volume(k)
        world_from_mni = np.eye(4)
        world_from_mni[:3, 3] = [4.0 * k, 0.0, -8.0]
        path = t1w_path(root, participant, "ses-M000")
        path.parent.mkdir(parents=True)
        nib.save(nib.Nifti1Image(data, world_from_mni @ affine), path)
        truth = root / "derivatives" / "synth" / participant / "ses-M000" / f"{participant}_ses-M000_groundtruth.json"
        truth.parent.mkdir(parents=True)
        truth.write_text(json.dumps({"world_from_mni": world_from_mni.tolist()}))
    pd.DataFrame(rows).to_csv(root / "participants.tsv", sep="\t", index=False)


def test_cohort_montage_shows_the_first_stable_cn_then_ad_realigned(tmp_path: Path, monkeypatch) -> None:
    _cohort(tmp_path / "bids")
    seen = {}
    monkeypatch.setattr(montage, "save_montage",
                        lambda volumes, affines, titles, path: seen.update(volumes=volumes, titles=titles, path=path))
    cohort_montage(tmp_path / "bids", 2, tmp_path / "montage.png", voxel_size_mm=4.0)
    assert seen["titles"] == ["sub-T01 CN age 71 severity 0.10", "sub-T03 CN age 73 severity 0.30",
                              "sub-T02 AD age 72 severity 0.20", "sub-T04 AD age 74 severity 0.40"]
    for volume, seed in zip(seen["volumes"], (1, 3, 2, 4)):   # the true pose undoes each shift exactly
        np.testing.assert_allclose(volume, _volume(seed)[0], atol=1e-5)


def test_cohort_montage_names_a_participants_table_without_trajectories(tmp_path: Path) -> None:
    (tmp_path / "participants.tsv").write_text("participant_id\tage\nsub-01\t70\n")
    with pytest.raises(BIDSError, match=r"participants.tsv: missing column\(s\) \['trajectory', 'severity'\]"):
        cohort_montage(tmp_path, 1, tmp_path / "montage.png")
