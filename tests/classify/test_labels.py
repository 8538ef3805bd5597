"""``classify.labels``: the classifiers' negative and positive labels, and the names derived from them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from medaug.classify.labels import DEMO_CLASSES, ClassLabels, ClassLabelsError

ROOT = Path(__file__).resolve().parents[2]


def test_names_derive_from_the_labels() -> None:
    classes = ClassLabels.from_params({"labels": {"negative": "HC", "positive": "PD"}})
    assert classes.names == ("HC", "PD") and classes.index("PD") == 1
    assert classes.probability_column == "probability_PD"
    assert classes.count_keys == ("n_PD", "n_HC")
    assert classes.describe() == "PD-vs-HC"
    assert classes.to_params() == {"negative": "HC", "positive": "PD"}


def test_demo_classes_give_the_demo_names() -> None:
    assert DEMO_CLASSES.names == ("CN", "AD")
    assert DEMO_CLASSES.probability_column == "probability_AD" and DEMO_CLASSES.count_keys == ("n_AD", "n_CN")


@pytest.mark.parametrize("profile", [ROOT / "params.yaml", *sorted((ROOT / "profiles").glob("*.yaml"))],
                         ids=lambda p: p.name)
def test_every_profile_names_cn_negative_and_ad_positive(profile: Path) -> None:
    params = yaml.safe_load(profile.read_text())
    assert ClassLabels.from_params(params["classify"]) == DEMO_CLASSES
    assert set(params["audit"]["labels"]) <= set(DEMO_CLASSES.names)


@pytest.mark.parametrize("labels, match", [
    (None, "classify.labels must name the two classes"),
    (["HC", "PD"], "classify.labels must name the two classes"),
    ({"negative": "HC"}, "classify.labels must name the two classes"),
    ({"negative": "HC", "positive": "HC"}, "negative and positive are both 'HC'"),
    ({"negative": "", "positive": "PD"}, "classify.labels.negative must be a non-empty label name"),
])
def test_malformed_labels_are_rejected(labels, match: str) -> None:
    with pytest.raises(ClassLabelsError, match=match):
        ClassLabels.from_params({"labels": labels})
