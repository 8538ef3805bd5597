"""Poses as 4x4 RAS maps and ANTs ``.mat`` files: a written map reads back the same; rotations keep their centre."""

from __future__ import annotations

import numpy as np

from medaug.preprocess.poses import native_from_template, rotation_about, write_affine


def test_a_written_affine_reads_back_as_the_same_ras_map(tmp_path):
    pose = np.diag([1.1, 0.9, 1.05, 1.0]) @ rotation_about(np.array([3.0, -20.0, 12.0]), 12.0, -5.0, 7.0)
    pose[:3, 3] += (5.0, -7.0, 2.0)
    np.testing.assert_allclose(native_from_template(write_affine(pose, tmp_path / "pose.mat")), pose, atol=1e-5)


def test_rotation_about_keeps_its_centre_and_turns_anterior_up_for_a_positive_pitch():
    centre = np.array([1.0, 2.0, 3.0])
    rotation = rotation_about(centre, 90.0, 0.0)
    np.testing.assert_allclose(rotation[:3, :3] @ centre + rotation[:3, 3], centre, atol=1e-12)
    np.testing.assert_allclose(rotation[:3, :3] @ np.array([0.0, 1.0, 0.0]), [0.0, 0.0, 1.0], atol=1e-12)
