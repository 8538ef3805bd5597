"""medaug.classify.trainsets: the training sets of the classify section, their groups and their checks."""

from __future__ import annotations

import pytest

from medaug.classify.data import ClassifierDataError
from medaug.classify.trainsets import trainset_entries, trainset_names, trainset_spec


def _params(**groups):
    return {"real_trainsets": {"real": {"real": "train"}, "real-50": {"real": "train-50"}},
            "synthetic_trainsets": {"synthetic-100": {"synthetic": 100}, "real-synthetic": {"real": "train",
                                                                                           "synthetic": 10}},
            **groups}


def test_entries_list_real_sets_first_in_parameter_order():
    params = _params()
    params = {"synthetic_trainsets": params["synthetic_trainsets"], "real_trainsets": params["real_trainsets"]}
    assert trainset_names(params) == ["real", "real-50", "synthetic-100", "real-synthetic"]
    groups = [group for group, _, _ in trainset_entries(params)]
    assert groups == ["real_trainsets"] * 2 + ["synthetic_trainsets"] * 2


def test_a_missing_or_empty_group_has_no_sets_and_a_null_spec_is_empty():
    assert trainset_names({"real_trainsets": None}) == []
    assert list(trainset_entries({"real_trainsets": {"odd": None}})) == [("real_trainsets", "odd", {})]


def test_the_spec_of_a_valid_set_is_its_entry():
    params = _params()
    assert trainset_spec(params, "real-synthetic") == {"real": "train", "synthetic": 10}
    spec = trainset_spec(params, "real")
    spec["real"] = "changed"  # a copy: the parameters stay as they were
    assert params["real_trainsets"]["real"] == {"real": "train"}


def test_an_unknown_or_twice_defined_set_lists_the_known_ones():
    with pytest.raises(KeyError, match=r"'missing' must be defined once.*known: \['real', 'real-50'"):
        trainset_spec(_params(), "missing")
    twice = _params()
    twice["synthetic_trainsets"]["real"] = {"synthetic": 5}
    with pytest.raises(KeyError, match="'real' must be defined once"):
        trainset_spec(twice, "real")


@pytest.mark.parametrize("name", ["bad name", "-leading", "a/b", "ü"])
def test_a_name_that_is_no_folder_or_stage_name_is_refused(name):
    with pytest.raises(ValueError, match=f"classify.real_trainsets: invalid training set name '{name}'"):
        trainset_spec(_params(real_trainsets={name: {"real": "train"}}), name)


def test_an_unknown_key_names_the_set():
    with pytest.raises(ValueError, match=r"classify.real_trainsets.real: unknown key\(s\) \['synth'\]"):
        trainset_spec(_params(real_trainsets={"real": {"real": "train", "synth": 3}}), "real")


def test_sets_must_sit_in_the_group_of_their_content():
    with pytest.raises(ClassifierDataError, match="synthetic_trainsets.none: empty synthetic set"):
        trainset_spec(_params(synthetic_trainsets={"none": {"real": "train", "synthetic": 0}}), "none")
    with pytest.raises(ValueError, match="real_trainsets.mixed: sets with synthetic images belong in synthetic"):
        trainset_spec(_params(real_trainsets={"mixed": {"real": "train", "synthetic": 4}}), "mixed")
    with pytest.raises(ClassifierDataError, match="real_trainsets.empty: neither real images nor synthetic"):
        trainset_spec(_params(real_trainsets={"empty": {"real": None}}), "empty")


def test_augmentation_needs_real_images():
    assert trainset_spec(_params(real_trainsets={"aug": {"real": "train", "augmentation": True}}), "aug")
    with pytest.raises(ValueError, match="synthetic_trainsets.syn-aug: classic augmentation applies to real images"):
        trainset_spec(_params(synthetic_trainsets={"syn-aug": {"synthetic": 4, "augmentation": {"affine_prob": 1}}}),
                      "syn-aug")
