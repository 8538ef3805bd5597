"""The two classes of the classifiers: which diagnosis label is negative (class id 0) and which is
positive (class id 1), from ``classify.labels: {negative: CN, positive: AD}``.

The thesis classifies AD (positive) against CN (negative), sec. 1.5.5; a researcher's own cohort
names its labels as its dataset does (``medaug init`` writes them, e.g. ``{negative: HC, positive: PD}``).
Every name that depends on the classes derives from the positive and negative labels, so CN / AD gives
the demo's names: the prediction column ``probability_AD``, the metric keys ``n_AD`` and ``n_CN``,
sensitivity = recall of the positive label, specificity = recall of the negative one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ClassLabels", "ClassLabelsError", "DEMO_CLASSES"]


class ClassLabelsError(ValueError):
    """``classify.labels`` is missing or malformed; the message names the key."""


@dataclass(frozen=True)
class ClassLabels:
    """The negative (class id 0) and positive (class id 1) diagnosis labels of a binary classifier."""

    negative: str
    positive: str

    def __post_init__(self) -> None:
        for role in ("negative", "positive"):
            value = getattr(self, role)
            if not isinstance(value, str) or not value.strip():
                raise ClassLabelsError(f"classify.labels.{role} must be a non-empty label name, got {value!r}")
        if self.negative == self.positive:
            raise ClassLabelsError(f"classify.labels: negative and positive are both {self.negative!r}")

    @classmethod
    def from_params(cls, classify: Mapping[str, Any]) -> ClassLabels:
        """From the ``classify`` section: ``labels: {negative: <label>, positive: <label>}``."""
        labels = classify.get("labels")
        if not isinstance(labels, Mapping) or set(labels) != {"negative", "positive"}:
            raise ClassLabelsError("classify.labels must name the two classes as {negative: <label>, positive: "
                                   f"<label>}} (the demo: {{negative: CN, positive: AD}}), got {labels!r}")
        return cls(str(labels["negative"]), str(labels["positive"]))

    @property
    def names(self) -> tuple[str, str]:
        """(negative, positive): the label of class id 0 and of class id 1."""
        return (self.negative, self.positive)

    def index(self, label: str) -> int:
        """The class id (0 or 1) of ``label``; ``ValueError`` for another label."""
        return self.names.index(label)

    @property
    def probability_column(self) -> str:
        """The predictions' column of P(positive), e.g. ``probability_AD``."""
        return f"probability_{self.positive}"

    @property
    def count_keys(self) -> tuple[str, str]:
        """The metrics' image counts, positive first: ``("n_AD", "n_CN")``."""
        return (f"n_{self.positive}", f"n_{self.negative}")

    def describe(self) -> str:
        """``AD-vs-CN`` (positive vs negative)."""
        return f"{self.positive}-vs-{self.negative}"

    def to_params(self) -> dict[str, str]:
        """The ``classify.labels`` value: ``{"negative": ..., "positive": ...}``."""
        return {"negative": self.negative, "positive": self.positive}


DEMO_CLASSES = ClassLabels("CN", "AD")
"""The thesis' and the demo's classes: CN negative, AD positive."""
