"""medaug.report.markdown: numbers and tables as the report writes them."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from medaug.report.markdown import image, mean_std, number, percent, table


@pytest.mark.parametrize(("value", "decimals", "text"), [(0.8125, 1, "81.2"), (0.8125, 2, "81.25"), (1.0, 0, "100"),
                                                         (0.0, 1, "0.0"), (math.nan, 1, "n/a"), (None, 1, "n/a"),
                                                         (math.inf, 1, "n/a")])
def test_percent(value, decimals, text):
    assert percent(value, decimals) == text


def test_mean_std_is_in_percent_with_a_plus_minus():
    assert mean_std(0.7, 0.1, 1) == "70.0 ± 10.0"
    assert mean_std(0.7, math.nan, 1) == "70.0 ± n/a"


@pytest.mark.parametrize(("value", "decimals", "text"), [(3, 2, "3"), (3.0, 0, "3"), (3.0, 2, "3.00"),
                                                         (2.345, 1, "2.3"), (-0.5, 0, "-0"), (None, 1, "n/a"),
                                                         (math.nan, 0, "n/a"), (1e16, 0, "10000000000000000")])
def test_number_keeps_integers_and_rounds_floats(value, decimals, text):
    assert number(value, decimals) == text


def test_table_escapes_pipes_and_newlines_and_aligns_the_named_columns():
    frame = pd.DataFrame({"set": ["a|b", "c\nd"], "BA (%)": ["70.0", None], "n": [3, math.nan]})
    assert table(frame, align_right=["BA (%)", "n"]).splitlines() == [
        "| set | BA (%) | n |",
        "|---|---:|---:|",
        "| a\\|b | 70.0 | 3.0 |",
        "| c d | n/a | n/a |",
    ]


def test_an_empty_frame_is_a_header_and_a_rule():
    assert table(pd.DataFrame(columns=["a", "b"])) == "| a | b |\n|---|---|"


def test_image_link():
    assert image("QC montage", "report/qc.png") == "![QC montage](report/qc.png)"
