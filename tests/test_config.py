"""medaug.config: the one unknown-key check of parameter mappings."""

from dataclasses import dataclass, field

import pytest

from medaug.config import check_keys, dataclass_keys


def test_unknown_keys_are_named_with_the_known_ones():
    check_keys({"a": 1}, {"a", "b"}, "section")
    with pytest.raises(ValueError, match=r"^section\.sub: unknown key\(s\) \['c', 'd'\]; known: \['a', 'b'\]$"):
        check_keys({"a": 1, "d": 2, "c": 3}, ("b", "a"), "section.sub")


def test_the_error_class_is_the_caller_s():
    class SectionError(ValueError):
        pass

    with pytest.raises(SectionError, match="unknown key"):
        check_keys({"x": 1}, (), "s", SectionError)


def test_dataclass_keys_are_its_init_fields():
    @dataclass
    class Config:
        a: int = 1
        b: int = 2
        derived: int = field(default=0, init=False)

    assert dataclass_keys(Config) == {"a", "b"}
    assert dataclass_keys(Config, exclude=("b",)) == {"a"}
