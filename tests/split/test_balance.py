"""medaug.split.balance: per-label p-values of age, sex and site between two sets (thesis sec. 1.5.4)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from medaug.split.balance import (
    BalanceCriteria,
    balance_margin,
    balance_pvalues,
    chi2_pvalue,
    is_balanced,
    ttest_pvalue,
)

AGE_SEX_SITE = BalanceCriteria(p_min={"age": 0.2, "sex": 0.2, "site": 0.2})


def test_pvalues_equal_scipy() -> None:
    a = pd.DataFrame({"diagnosis": "CN", "age": [70.1, 72.5, 68.0, 75.2, 71.0],
                      "sex": ["M", "F", "F", "M", "F"], "site": ["A", "A", "B", "C", "B"]})
    b = pd.DataFrame({"diagnosis": "CN", "age": [74.3, 69.9, 77.0, 80.2],
                      "sex": ["M", "M", "M", "F"], "site": ["A", "C", "C", "C"]})
    p = balance_pvalues(a, b, AGE_SEX_SITE)["CN"]
    assert p["age"] == pytest.approx(stats.ttest_ind(a["age"], b["age"], equal_var=False).pvalue, rel=1e-12)
    sex_table = [[2, 3], [3, 1]]  # columns F, M
    assert p["sex"] == pytest.approx(stats.chi2_contingency(sex_table, correction=False).pvalue, rel=1e-12)
    site_table = [[2, 2, 1], [1, 0, 3]]  # columns A, B, C
    assert p["site"] == pytest.approx(stats.chi2_contingency(site_table, correction=False).pvalue, rel=1e-12)
    assert 0.0 < p["age"] < 1.0 and 0.0 < p["site"] < 1.0


def test_untestable_pvalues_are_nan_and_one_category_is_one() -> None:
    assert math.isnan(ttest_pvalue(pd.Series([70.0]), pd.Series([71.0, 72.0])))
    assert math.isnan(ttest_pvalue(pd.Series([70.0, 70.0]), pd.Series([70.0, 70.0])))
    assert chi2_pvalue(pd.Series(["M", "M"]), pd.Series(["M"])) == 1.0
    assert ttest_pvalue(pd.Series([70.0, 71.0, np.nan]), pd.Series([70.5, 73.0])) == pytest.approx(
        stats.ttest_ind([70.0, 71.0], [70.5, 73.0], equal_var=False).pvalue)


def test_chi2_of_a_perfect_split_by_hand_and_of_an_empty_set():
    # 4 M vs 4 F: chi2 = 8 on 1 degree of freedom
    assert chi2_pvalue(np.array(["M"] * 4), np.array(["F"] * 4)) == pytest.approx(stats.chi2.sf(8.0, 1), rel=1e-12)
    assert math.isnan(chi2_pvalue(np.array([None, np.nan], dtype=object), np.array(["M"])))
    assert chi2_pvalue(np.array(["M", "F"]), np.array(["M", "F"])) == pytest.approx(1.0)


def test_pvalues_are_computed_within_each_label_present_in_either_set():
    a = pd.DataFrame({"diagnosis": ["AD", "AD", "CN", "CN"], "age": [60.0, 61.0, 80.0, 81.0]})
    b = pd.DataFrame({"diagnosis": ["AD", "AD", "CN", "CN", "MCI"], "age": [60.5, 61.5, 70.0, 71.0, 75.0]})
    p = balance_pvalues(a, b, BalanceCriteria(p_min={"age": 0.1}))
    assert list(p) == ["AD", "CN", "MCI"]
    assert p["AD"]["age"] == pytest.approx(stats.ttest_ind([60.0, 61.0], [60.5, 61.5], equal_var=False).pvalue)
    assert p["CN"]["age"] < 0.05 < p["AD"]["age"]  # CN ages differ by 10 years, AD ones by half a year
    assert math.isnan(p["MCI"]["age"])


def test_a_missing_column_is_named_with_the_columns_found():
    with pytest.raises(ValueError, match=r"balance column\(s\) \['sex'\] not in the cohort table \(columns: \['diagnosis'"):
        balance_pvalues(pd.DataFrame({"diagnosis": ["CN"], "age": [1.0]}),
                        pd.DataFrame({"diagnosis": ["CN"], "age": [1.0]}), BalanceCriteria(p_min={"age": 0.1, "sex": 0.1}))


def test_the_margin_is_the_worst_p_minus_threshold_and_skips_nan():
    criteria = BalanceCriteria(p_min={"age": 0.2, "sex": 0.1})
    pvalues = {"AD": {"age": 0.5, "sex": 0.15}, "CN": {"age": math.nan, "sex": 0.9}}
    assert balance_margin(pvalues, criteria) == pytest.approx(0.05)
    assert is_balanced(pvalues, criteria)
    pvalues["CN"]["age"] = 0.19
    assert balance_margin(pvalues, criteria) == pytest.approx(-0.01) and not is_balanced(pvalues, criteria)
    assert balance_margin({"AD": {"age": math.nan}}, criteria) == math.inf  # nothing testable never blocks


def test_criteria_check_thresholds_and_tests_and_default_to_ttest_for_age_only():
    assert BalanceCriteria(p_min={"age": 0.1, "sex": 0.1, "site": 0.1}).test_of == {"age": "ttest", "sex": "chi2",
                                                                                   "site": "chi2"}
    assert BalanceCriteria(p_min={"mmse": 0.1}, tests={"mmse": "ttest"}).test_of == {"mmse": "ttest"}
    with pytest.raises(ValueError, match=r"p_min\['age'\] must lie in \[0, 1\], got 1.5"):
        BalanceCriteria(p_min={"age": 1.5})
    with pytest.raises(ValueError, match="test of 'sex' must be one of"):
        BalanceCriteria(p_min={"sex": 0.1}, tests={"sex": "fisher"})
