"""Markdown rendering of tables and numbers for the results report."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

MISSING = "n/a"


def percent(value: float, decimals: int) -> str:
    """A fraction in [0, 1] as a percentage with ``decimals`` decimals; NaN as ``n/a``."""
    return MISSING if value is None or not math.isfinite(value) else f"{100.0 * value:.{decimals}f}"


def mean_std(mean: float, std: float, decimals: int) -> str:
    """``mean ± std`` in percent, as the thesis writes its tables."""
    return f"{percent(mean, decimals)} ± {percent(std, decimals)}"


def number(value: float | int | None, decimals: int) -> str:
    """A plain number (integers unchanged); None / NaN as ``n/a``."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15 and decimals == 0):
        return str(int(value))
    return f"{float(value):.{decimals}f}"


def _cell(value: object) -> str:
    text = MISSING if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def table(frame: pd.DataFrame, align_right: Sequence[str] = ()) -> str:
    """A GitHub-flavoured markdown table of ``frame`` (its columns as header, no index)."""
    header = "| " + " | ".join(_cell(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---:" if c in align_right else "---" for c in frame.columns) + "|"
    rows = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def image(alt: str, link: str) -> str:
    """A markdown image with alternative text ``alt`` and a relative ``link``."""
    return f"![{alt}]({link})"
