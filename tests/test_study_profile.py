"""profiles/demo-study.yaml is the demo profile with more classifier runs, real + classic + synthetic and
the sampler ablation:
everything upstream of the classifiers is the demo's, so the study reuses the demo's cached stages
and its figures answer for the committed demo run."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _without_study_changes(tree: dict) -> dict:
    tree = copy.deepcopy(tree)
    tree["classify"].pop("runs")
    tree["classify"]["synthetic_trainsets"].pop("real-synthetic-prior-200", None)
    tree["classify"]["synthetic_trainsets"].pop("real-augmented-synthetic-200", None)
    return tree


def test_the_study_profile_differs_from_the_demo_only_in_runs_and_two_sets() -> None:
    demo = yaml.safe_load((ROOT / "params.yaml").read_text())
    study = yaml.safe_load((ROOT / "profiles" / "demo-study.yaml").read_text())
    assert _without_study_changes(study) == _without_study_changes(demo)
    runs = study["classify"]["runs"]
    assert runs[: len(demo["classify"]["runs"])] == demo["classify"]["runs"] and len(runs) >= 20
    assert len(set(runs)) == len(runs)
    prior = study["classify"]["synthetic_trainsets"]["real-synthetic-prior-200"]
    hmc = study["classify"]["synthetic_trainsets"]["real-synthetic-200"]
    assert prior == {**hmc, "synthetic_dir": demo["audit"]["synthetic"]["prior"]}
    classic = study["classify"]["synthetic_trainsets"]["real-augmented-synthetic-200"]
    assert classic == {**hmc, "augmentation": True}
