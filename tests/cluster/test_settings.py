"""medaug.cluster.settings: the ``cluster`` section of params.yaml, the address variable overriding it."""

from __future__ import annotations

import pytest

from medaug.cluster.settings import ClusterSettings


def test_settings_default_without_section_and_env_overrides_address(tmp_path):
    (tmp_path / "params.yaml").write_text("other: {}\n")
    settings = ClusterSettings.from_params(tmp_path / "params.yaml", environ={})
    assert settings.address is None and settings.workers >= 1 and settings.threads_per_task == 1
    section = {"address": "tcp://a:8786", "resources": {"train_classifier": {"GPU": 1}}}
    assert ClusterSettings.from_mapping(section, environ={}).address == "tcp://a:8786"
    settings = ClusterSettings.from_mapping(section, environ={"MEDAUG_CLUSTER_ADDRESS": "tcp://b:8786"})
    assert settings.address == "tcp://b:8786"
    assert settings.resources_for("train_classifier@real-3") == {"GPU": 1}
    assert settings.resources_for("train_vae@AD") == {}
    with pytest.raises(ValueError, match="unknown key"):
        ClusterSettings.from_mapping({"adress": "x"}, environ={})


def test_a_missing_file_or_empty_section_gives_the_defaults(tmp_path):
    settings = ClusterSettings.from_params(tmp_path / "nowhere.yaml", environ={})
    assert settings == ClusterSettings()
    assert settings.fan_out == ("preprocess",) and settings.allowed_failures == 3
    (tmp_path / "params.yaml").write_text("cluster:\n")
    assert ClusterSettings.from_params(tmp_path / "params.yaml", environ={}) == ClusterSettings()


def test_values_are_read_and_checked():
    settings = ClusterSettings.from_mapping({"workers": "4", "threads_per_task": 2, "allowed_failures": 0,
                                             "fan_out": None, "resources": {"train_vae": None}}, environ={})
    assert (settings.workers, settings.threads_per_task, settings.allowed_failures) == (4, 2, 0)
    assert settings.fan_out == () and settings.resources == {"train_vae": {}}
    assert ClusterSettings.from_mapping({"address": ""}, environ={"MEDAUG_CLUSTER_ADDRESS": ""}).address is None
    for bad in ({"workers": -1}, {"threads_per_task": -2}, {"allowed_failures": -1}):
        with pytest.raises(ValueError, match="cluster: workers and threads_per_task must be >= 1"):
            ClusterSettings.from_mapping(bad, environ={})


def test_fan_out_and_resources_are_per_stage_group():
    settings = ClusterSettings.from_mapping({"fan_out": ["preprocess", "sample"],
                                             "resources": {"sample": {"GPU": 1, "memory": 2.5}}}, environ={})
    assert settings.fans_out("preprocess@demo-train") and settings.fans_out("sample")
    assert not settings.fans_out("train_vae@AD") and not settings.fans_out("preprocessing")
    resources = settings.resources_for("sample@AD")
    resources["GPU"] = 9   # a copy: the settings keep theirs
    assert settings.resources_for("sample@CN") == {"GPU": 1, "memory": 2.5}
