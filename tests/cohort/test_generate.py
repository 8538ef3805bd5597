"""Tests of the demo-cohort generator (medaug.cohort)."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import yaml

from medaug.bids.layout import read_participants, read_sessions, t1w_path
from medaug.cohort import CohortConfig, CohortConfigError, generate_cohort
from medaug.cohort.align import resample_to_template
from medaug.cohort.anatomy import atrophy_amounts, backward_map, draw_anatomy
from medaug.cohort.atlas import MTL_REGIONS, gaussian_weight, load_template_atlas
from medaug.cohort.generate import render_image
from pipelines import cohort as cohort_stage


def _digest_tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def atlas():
    return load_template_atlas(True)


def test_cached_brain_points_equal_the_recomputed_ones(atlas):
    voxels = np.argwhere(atlas.brain_mask).T
    expected = atlas.affine[:3, :3] @ voxels + atlas.affine[:3, 3:4]
    np.testing.assert_allclose(atlas.brain_points_mm, expected, atol=1e-4)
    assert atlas.brain_points_mm is atlas.brain_points_mm  # computed once


def test_points_away_from_the_head_interpolate_to_exactly_zero(atlas):
    from scipy import ndimage

    rng = np.random.default_rng(0)
    corners = atlas.affine[:3, :3] @ np.array([[0, 0, 0], atlas.base.shape]).T + atlas.affine[:3, 3:4]
    points = rng.uniform(corners.min(axis=1) - 10, corners.max(axis=1) + 10, size=(300_000, 3)).T.astype(np.float32)
    near = atlas.near_head(points)
    assert 0.1 < near.mean() < 0.9
    vox = np.linalg.inv(atlas.affine)[:3, :3] @ points + np.linalg.inv(atlas.affine)[:3, 3:4]
    values = ndimage.map_coordinates(atlas.base, vox, order=1, mode="constant", cval=0.0, prefilter=False)
    assert (values[~near] == 0).all() and (values[near] > 0).mean() > 0.5


def test_template_points_drop_only_points_that_interpolate_to_zero(atlas):
    from scipy import ndimage

    from medaug.cohort.anatomy import subject_intensity
    from medaug.cohort.config import AnatomyConfig
    from medaug.cohort.generate import template_points

    anatomy = draw_anatomy(np.random.default_rng(3), "M", 85.0, 1.5, AnatomyConfig())
    box = atlas.affine[:3, :3] @ atlas.head_box + atlas.affine[:3, 3:4]
    points = np.random.default_rng(4).uniform(box.min(axis=1) - 12, box.max(axis=1) + 12, size=(300_000, 3)).T
    kept, template_mm = template_points(atlas, anatomy, points.astype(np.float32))
    full = backward_map(points, anatomy, atlas.ventricle_centres_mm)
    np.testing.assert_allclose(template_mm, full[:, kept], atol=1e-4)
    intensity, offset = subject_intensity(atlas, anatomy)
    vox_from_mm = np.linalg.inv(atlas.affine)
    vox = vox_from_mm[:3, :3] @ full + (vox_from_mm[:3, 3] - offset)[:, None]
    values = ndimage.map_coordinates(intensity, vox, order=1, mode="constant", cval=0.0, prefilter=False)
    dropped = np.setdiff1d(np.arange(points.shape[1]), kept)
    assert len(dropped) > 0.2 * points.shape[1] and (values[dropped] == 0).all()


def test_same_seed_gives_byte_identical_files_whatever_n_jobs(tiny_cohort_params, tmp_path):
    params = copy.deepcopy(tiny_cohort_params)
    params["cohorts"] = {k: v for k, v in list(params["cohorts"].items())[1:]}  # external: smallest
    first = CohortConfig.from_dict(params)
    generate_cohort(first, 0, tmp_path / "a", progress=False)
    params["n_jobs"] = 2
    generate_cohort(CohortConfig.from_dict(params), 0, tmp_path / "b", progress=False)
    a, b = _digest_tree(tmp_path / "a"), _digest_tree(tmp_path / "b")
    assert a == b and any(name.endswith("_T1w.nii.gz") for name in a)

    params["seed"] += 1
    generate_cohort(CohortConfig.from_dict(params), 0, tmp_path / "c", progress=False)
    c = _digest_tree(tmp_path / "c")
    assert c != a


@pytest.fixture(scope="module")
def tiny_train_cohort(tmp_path_factory, repo_params):
    from tests.conftest import REPO  # noqa: F401  (same fixture logic, module scope)

    params = copy.deepcopy(repo_params["cohort"])
    params.update(n_jobs=1)
    params["acquisition"]["voxel_size_mm"] = [4.0, 4.0, 4.0]
    train = next(iter(params["cohorts"]))
    params["cohorts"] = {train: params["cohorts"][train]}
    params["cohorts"][train]["groups"] = {"CN": 3, "AD": 3, "MCI": 2, "CN-MCI": 2, "MCI-AD": 2}
    params["cohorts"][train]["no_followup_fraction"] = 0.5
    config = CohortConfig.from_dict(params)
    root = tmp_path_factory.mktemp("bids") / train
    written = generate_cohort(config, 0, root, progress=False)
    return config, root, written


def test_bids_structure_and_columns(tiny_train_cohort):
    config, root, written = tiny_train_cohort
    description = json.loads((root / "dataset_description.json").read_text())
    assert description["DatasetType"] == "raw" and "BIDSVersion" in description
    participants = read_participants(root)
    assert list(participants.columns) == ["participant_id", "sex", "age", "site", "MMSE", "CDR", "trajectory", "severity"]
    assert participants.participant_id.str.fullmatch(r"sub-DEMO\d{4}").all()
    assert set(participants.sex) <= {"M", "F"}
    assert set(participants.site) <= set(config.cohorts[0].sites)
    assert participants.MMSE.between(0, 30).all() and (participants.severity >= 0).all()
    for pid in participants.participant_id:
        sessions = read_sessions(root, pid)
        assert list(sessions.columns) == ["session_id", "age", "diagnosis", "MMSE", "CDR"]
        assert sessions.session_id.iloc[0] == "ses-M000"
        assert set(sessions.session_id) <= {"ses-M000", "ses-M012", "ses-M024"}
        assert sessions.age.is_monotonic_increasing
        image_path = t1w_path(root, pid, "ses-M000")
        assert image_path.is_file()
        truth = root / "derivatives" / "synth" / pid / "ses-M000" / f"{pid}_ses-M000_groundtruth.json"
        assert np.asarray(json.loads(truth.read_text())["world_from_mni"]).shape == (4, 4)
        assert not t1w_path(root, pid, "ses-M012").exists()  # baseline images only by default
    assert len(written) == len(participants)
    assert not list(root.parent.glob(".tmp-*"))


def test_images_are_3d_int16_with_site_orientation(tiny_train_cohort):
    config, root, _ = tiny_train_cohort
    participants = read_participants(root)
    for row in participants.itertuples():
        image = nib.load(t1w_path(root, row.participant_id, "ses-M000"))
        assert image.ndim == 3 and image.get_data_dtype() == np.int16
        expected = config.sites[row.site].orientation
        assert "".join(nib.aff2axcodes(image.affine)) == expected
        voxel = np.asarray(config.acquisition.voxel_size_mm) * config.sites[row.site].voxel_aspect
        np.testing.assert_allclose(image.header.get_zooms(), voxel, rtol=1e-5)
        assert image.header["sform_code"] == 1


def test_label_counts_and_trajectories_match_parameters(tiny_train_cohort):
    config, root, _ = tiny_train_cohort
    participants = read_participants(root)
    assert participants.trajectory.value_counts().to_dict() == config.cohorts[0].groups
    for row in participants.itertuples():
        dx = read_sessions(root, row.participant_id).diagnosis.tolist()
        if row.trajectory in ("CN", "AD", "MCI"):
            assert set(dx) == {row.trajectory}
        else:
            before, after = row.trajectory.split("-")
            assert dx[0] == before and dx[-1] == after and len(dx) == 3
    # no-follow-up participants exist only among stable CN/AD
    n_sessions = {p: len(read_sessions(root, p)) for p in participants.participant_id}
    single = participants[participants.participant_id.map(n_sessions) == 1]
    assert set(single.trajectory) <= {"CN", "AD"}


def test_known_pose_realigns_image_to_template(atlas, tiny_cohort_params):
    # Without deformation, bias and noise, the ground-truth pose must bring the image back onto
    # the template up to interpolation: this checks the pose and grid conventions end to end.
    params = copy.deepcopy(tiny_cohort_params)
    params["anatomy"].update(deformation_mm=0.0)
    params["sites"]["SITE-B"].update(noise_std=0.0, bias_std=0.0, contrast_gamma=1.0)
    config = CohortConfig.from_dict(params)
    rng = np.random.default_rng(3)
    anatomy = draw_anatomy(rng, "F", 60.0, 0.0, config.anatomy)
    image = render_image(atlas, anatomy, "SITE-B", config, rng)
    aligned, affine = resample_to_template(image.data, image.affine, image.world_from_mni, voxel_size_mm=4.0)
    template, _ = resample_to_template(atlas.base, atlas.affine, np.eye(4), voxel_size_mm=4.0)
    mask, _ = resample_to_template(atlas.brain_mask.astype(np.float32), atlas.affine, np.eye(4), voxel_size_mm=4.0)
    inside = mask > 0.5
    ncc = np.corrcoef(aligned[inside], template[inside])[0, 1]
    assert ncc > 0.85  # 4.8 mm native voxels, resampled twice: interpolation costs a little
    # a wrong pose (identity instead of the truth) must align much worse
    wrong, _ = resample_to_template(image.data, image.affine, np.eye(4), voxel_size_mm=4.0)
    assert np.corrcoef(wrong[inside], template[inside])[0, 1] < ncc - 0.2


@pytest.mark.parametrize("orientation", ["PSL", "LPI"])
def test_neck_site_adds_neck_face_and_shoulders_and_leaves_the_brain_alone(atlas, tiny_cohort_params, orientation):
    params = copy.deepcopy(tiny_cohort_params)
    params["anatomy"].update(deformation_mm=0.0)
    params["sites"]["SITE-B"].update(noise_std=0.0, bias_std=0.0, contrast_gamma=1.0, orientation=orientation,
                                     deface=False)
    plain = CohortConfig.from_dict(params)
    params["sites"]["SITE-B"].update(neck=True)
    neck = CohortConfig.from_dict(params)
    anatomy = draw_anatomy(np.random.default_rng(3), "F", 60.0, 0.0, plain.anatomy)
    images = {name: render_image(atlas, anatomy, "SITE-B", config, np.random.default_rng(4))
              for name, config in (("plain", plain), ("neck", neck))}
    image = images["neck"]
    assert "".join(nib.aff2axcodes(image.affine)) == orientation
    np.testing.assert_allclose(image.world_from_mni, images["plain"].world_from_mni)  # same pose draw
    zooms = np.sort(np.linalg.norm(image.affine[:3, :3], axis=0))
    np.testing.assert_allclose(zooms, np.sort(np.asarray(neck.acquisition.voxel_size_mm) * (1.2, 1.0, 1.0)))
    extent = np.abs(image.affine[:3, :3]) @ np.asarray(image.data.shape)
    np.testing.assert_allclose(extent, neck.acquisition.neck_field_of_view_mm, atol=4.0)
    # the ground-truth pose still brings the brain onto the template: the body never overwrites it
    aligned, _ = resample_to_template(image.data, image.affine, image.world_from_mni, voxel_size_mm=4.0)
    template, _ = resample_to_template(atlas.base, atlas.affine, np.eye(4), voxel_size_mm=4.0)
    mask, _ = resample_to_template(atlas.brain_mask.astype(np.float32), atlas.affine, np.eye(4), voxel_size_mm=4.0)
    assert np.corrcoef(aligned[mask > 0.5], template[mask > 0.5])[0, 1] > 0.85
    # bright tissue in the neck, below the brain (template z -100..-130 mm, under the skull base)
    points = np.stack([np.zeros(7), np.linspace(-30.0, 10.0, 7), np.full(7, -115.0), np.ones(7)])
    world = image.world_from_mni @ points
    voxels = np.rint(np.linalg.solve(image.affine, world)[:3]).astype(int)
    neck_values = image.data[tuple(voxels)]
    assert np.median(neck_values) > 0.3 * np.percentile(image.data, 99)
    assert images["plain"].data.max() > 0 and image.data.size > images["plain"].data.size


@pytest.mark.parametrize("neck", [False, True])
def test_defaced_site_zeroes_the_face_side_of_the_plane_and_keeps_the_brain(atlas, tiny_cohort_params, neck):
    from medaug.cohort.body import face_plane_normal

    params = copy.deepcopy(tiny_cohort_params)
    params["anatomy"].update(deformation_mm=0.0)
    params["sites"]["SITE-B"].update(noise_std=0.02, bias_std=0.0, contrast_gamma=1.0, neck=neck, deface=False)
    whole = CohortConfig.from_dict(params)
    params["sites"]["SITE-B"].update(deface=True)
    defaced = CohortConfig.from_dict(params)
    anatomy = draw_anatomy(np.random.default_rng(3), "F", 60.0, 0.0, whole.anatomy)
    images = {name: render_image(atlas, anatomy, "SITE-B", config, np.random.default_rng(4))
              for name, config in (("whole", whole), ("defaced", defaced))}
    image = images["defaced"]
    # template mm of every native voxel, and its signed distance to the plane
    grid = np.indices(image.data.shape).reshape(3, -1).astype(float)
    world = image.affine[:3, :3] @ grid + image.affine[:3, 3:4]
    anat_from_world = np.linalg.inv(image.world_from_mni)
    template_mm = anat_from_world[:3, :3] @ world + anat_from_world[:3, 3:4]
    brain = atlas.affine[:3, :3] @ np.argwhere(atlas.brain_mask).T + atlas.affine[:3, 3:4]
    normal = face_plane_normal(defaced.acquisition.deface_angle_deg)
    distance = normal @ template_mm - ((normal @ brain).max() + defaced.acquisition.deface_margin_mm)
    data, full = image.data.reshape(-1), images["whole"].data.reshape(-1)
    assert (data[distance > 1.0] == 0).all()           # exact zeros in front of / below the plane
    assert (full[distance > 1.0] > 0).mean() > 0.5      # where the whole head has noise, scalp or face
    np.testing.assert_array_equal(data[distance < -1.0], full[distance < -1.0])  # the rest untouched
    # the brain lies entirely behind the plane: defacing never cuts it
    inside = distance < -defaced.acquisition.deface_margin_mm + 1.0
    assert inside.sum() > 0 and (distance[inside] < 0).all()


def test_ad_severity_shrinks_medial_temporal_lobe_and_enlarges_ventricles(atlas, tiny_cohort_params):
    config = CohortConfig.from_dict(tiny_cohort_params)
    anatomy = draw_anatomy(np.random.default_rng(0), "M", 70.0, 0.0, config.anatomy)
    healthy = anatomy
    import dataclasses

    diseased = dataclasses.replace(anatomy, **atrophy_amounts(70.0, 1.5, config.anatomy))
    xyz = atlas.world_coordinates()
    hippocampus = sum(gaussian_weight(xyz, (s * MTL_REGIONS["hippocampus"][0][0], *MTL_REGIONS["hippocampus"][0][1:]),
                                      (3, 6, 3)) for s in (-1, 1)) > 0.5
    ventricles = sum(gaussian_weight(xyz, c, (5, 5, 5)) for c in atlas.ventricle_centres_mm) > 0.5
    means = {}
    for name, anat in (("healthy", healthy), ("diseased", diseased)):
        from medaug.cohort.anatomy import subject_intensity
        from scipy import ndimage

        intensity, offset = subject_intensity(atlas, anat)
        points = xyz[:, hippocampus | ventricles]
        template_mm = backward_map(points, anat, atlas.ventricle_centres_mm)
        vox = np.linalg.inv(atlas.affine)[:3, :3] @ template_mm + (np.linalg.inv(atlas.affine)[:3, 3] - offset)[:, None]
        values = ndimage.map_coordinates(intensity, vox, order=1)
        region = hippocampus[hippocampus | ventricles]
        means[name] = (values[region].mean(), values[~region].mean())
    assert means["diseased"][0] < 0.9 * means["healthy"][0]  # MTL darker (tissue -> CSF)
    assert means["diseased"][1] < means["healthy"][1]  # more CSF around the ventricle centres


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda p: p["cohorts"]["demo-train"]["groups"].update(CN=-3), "groups.CN must be a non-negative integer"),
        (lambda p: p["cohorts"]["demo-train"]["sites"].append("SITE-Z"), "unknown site name(s) ['SITE-Z']"),
        (lambda p: p["acquisition"].update(field_of_view_mm=[120, 256, 240]), "cannot fit the brain"),
        (lambda p: p["cohorts"]["demo-train"]["groups"].update(AD=0), "at least one CN and one AD"),
        (lambda p: p["cohorts"]["demo-train"]["groups"].update(LMCI=3), "unknown trajectory"),
        (lambda p: p["anatomy"].update(atrophy=1.0), "cohort.anatomy: unknown key(s) ['atrophy']"),
        (lambda p: p["sites"]["SITE-A"].update(orientation="RLS"), "orientation must be an axis code"),
        (lambda p: (p["sites"]["SITE-A"].update(neck=True), p["acquisition"].update(neck_fov_shift_mm=-80)),
         "neck_field_of_view_mm[2] = 300 mm cannot fit the brain"),
        (lambda p: p["acquisition"].update(voxel_size_mm=[20.0, 20.0, 20.0]), "fewer than 16 voxels"),
        (lambda p: p.update(seed=-1), "cohort.seed must be >= 0"),
    ],
)
def test_bad_parameters_fail_clearly_and_write_nothing(tiny_cohort_params, tmp_path, mutate, message):
    params = copy.deepcopy(tiny_cohort_params)
    mutate(params)
    with pytest.raises(CohortConfigError) as err:
        CohortConfig.from_dict(params)
    assert message in str(err.value)

    params.update(out_dir=str(tmp_path / "bids"), results_dir=str(tmp_path / "results"),
                  metrics_dir=str(tmp_path / "metrics"))
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump({"cohort": params}))
    with pytest.raises(CohortConfigError) as stage_err:  # the shared runner turns it into exit code 1
        cohort_stage.main(["--params", str(params_file)])
    assert message in str(stage_err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


def test_failed_generation_leaves_previous_output_untouched(tiny_cohort_params, tmp_path, monkeypatch):
    from medaug.cohort import generate

    params = copy.deepcopy(tiny_cohort_params)
    params["cohorts"] = dict(list(params["cohorts"].items())[1:])
    config = CohortConfig.from_dict(params)
    root = tmp_path / "cohort"
    root.mkdir()
    (root / "marker").write_text("previous run")

    calls = {"n": 0}
    real = generate._run_job

    def failing(job, cfg):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("killed")
        return real(job, cfg)

    monkeypatch.setattr(generate, "_run_job", failing)
    with pytest.raises(RuntimeError, match="killed"):
        generate_cohort(config, 0, root, progress=False)
    assert [p.name for p in root.iterdir()] == ["marker"]
    assert [p.name for p in tmp_path.iterdir()] == ["cohort"]


def test_profiles_have_the_same_parameter_keys_as_params_yaml(repo_params):
    from tests.conftest import REPO

    def keys(tree, prefix=""):
        out = set()
        for k, v in tree.items():
            if isinstance(v, dict) and k not in ("groups", "cohorts", "sites", "severity", "severity_per_year",
                                                 "real_trainsets", "synthetic_trainsets", "synthetic", "bids"):
                out |= keys(v, f"{prefix}{k}.")
            else:
                out.add(f"{prefix}{k}")
        return out

    # a profile without the demo generator in its graph (cohort.demo: []) needs none of its parameters
    source_keys = {"cohort.demo", "cohort.bids", "cohort.out_dir", "cohort.results_dir", "cohort.metrics_dir",
                   "cohort.cohorts"}
    for profile in sorted((REPO / "profiles").glob("*.yaml")):
        other = yaml.safe_load(profile.read_text())
        expected = keys(repo_params)
        if not other["cohort"]["demo"]:
            expected = {k for k in expected if not k.startswith("cohort.") or k in source_keys}
        assert keys(other) == expected, profile.name
