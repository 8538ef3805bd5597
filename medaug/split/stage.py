"""The ``split`` stage: label every cohort, split the training cohort, check for leakage, write the
tables and the metrics.

Writes (the whole ``out_dir`` tree atomically)::

    <out_dir>/labels/<cohort>.tsv                            every participant: label or exclusion
    <out_dir>/<training>/{test,train,validation,train-50}.tsv the training cohort
    <out_dir>/<external>/test.tsv                            each external cohort (test only)
    <metrics>                                                counts per split and label, p-values
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from medaug.config import check_keys
from medaug.io import atomic_directory, write_json, write_tsv
from medaug.split.balance import BalanceCriteria
from medaug.split.labels import LabelRule, labelled_images, read_labels, summarize_labels
from medaug.split.leakage import check_no_leakage
from medaug.split.splits import CohortSplitter

__all__ = ["LABELS_DIR", "ROLES", "Cohort", "read_cohorts", "build_splitter", "run"]

LABELS_DIR = "labels"
ROLES = ("training", "external")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Cohort:
    """One entry of ``split.cohorts``: where its BIDS dataset is and how it is labelled."""

    name: str
    role: str
    bids: Path
    rule: LabelRule


def read_cohorts(params: Mapping[str, Any]) -> tuple[Cohort, list[Cohort]]:
    """The training cohort and the external ones, in parameter order.

    Each entry of ``cohorts`` has a ``role`` (``training``: exactly one; ``external``), optionally
    ``bids`` (default ``<bids_dir>/<name>``) and ``labels`` (keys overriding ``split.labels``).
    """
    cohorts = []
    for name, spec in (params.get("cohorts") or {}).items():
        spec = dict(spec or {})
        if name == LABELS_DIR or not _NAME.fullmatch(str(name)):
            raise ValueError(
                f"split.cohorts: invalid cohort name {name!r} (letters, digits, . _ -; not {LABELS_DIR!r})"
            )
        check_keys(spec, ("role", "bids", "labels"), f"split.cohorts.{name}")
        role = spec.get("role")
        if role not in ROLES:
            raise ValueError(f"split.cohorts.{name}.role must be one of {ROLES}, got {role!r}")
        bids = Path(spec.get("bids") or Path(params["bids_dir"]) / name)
        rule = LabelRule.from_params({**params["labels"], **(spec.get("labels") or {})})
        cohorts.append(Cohort(str(name), role, bids, rule))
    training = [c for c in cohorts if c.role == "training"]
    if len(training) != 1:
        raise ValueError(f"split.cohorts: exactly one cohort must have role 'training', got {len(training)}")
    return training[0], [c for c in cohorts if c.role == "external"]


def build_splitter(params: Mapping[str, Any]) -> CohortSplitter:
    """The :class:`CohortSplitter` of the ``split`` parameters (test size, validation share, balance tests, train subset)."""
    balance, subset = params["balance"], params["train_subset"]
    return CohortSplitter(
        n_test_per_label=int(params["n_test_per_label"]),
        validation_size=float(params["validation_size"]),
        balance=BalanceCriteria(p_min=balance["p_min"], tests=balance.get("tests")),
        max_attempts=int(balance["max_attempts"]),
        n_subset_per_label=int(subset["n_per_label"]),
        subset_balance=BalanceCriteria(p_min=subset["p_min"], tests=subset.get("tests")),
        subset_name=str(subset["name"]),
        seed=int(params["seed"]),
    )


def _rule_summary(rule: LabelRule) -> dict[str, Any]:
    return {"rule": rule.rule, "keep_without_followup": rule.keep_without_followup,
            "diagnosis_column": rule.diagnosis_column, "baseline_session": rule.baseline_session}


def _counts(table: pd.DataFrame, labels: list[str]) -> dict[str, int]:
    return {label: int((table["diagnosis"] == label).sum()) for label in labels}


def run(params: Mapping[str, Any]) -> dict[str, Any]:
    """Label every cohort, split the training one, check for leakage, write it all.

    Returns the metrics written to ``params["metrics"]``.
    """
    training, externals = read_cohorts(params)
    splitter = build_splitter(params)

    labels = read_labels(training.bids, training.rule)
    splits, split_report = splitter.split(labelled_images(labels), training.rule.labels)
    tables = {f"{LABELS_DIR}/{training.name}.tsv": labels}
    tables.update({f"{training.name}/{name}.tsv": t for name, t in splits.items()})
    metrics_of = {training.name: {"role": training.role, "rule": _rule_summary(training.rule),
                                  "labels": summarize_labels(labels), **split_report}}

    external_tests = {}
    for cohort in externals:
        ext_labels = read_labels(cohort.bids, cohort.rule)
        test = labelled_images(ext_labels)
        external_tests[cohort.name] = test
        tables[f"{LABELS_DIR}/{cohort.name}.tsv"] = ext_labels
        tables[f"{cohort.name}/test.tsv"] = test
        metrics_of[cohort.name] = {"role": cohort.role, "rule": _rule_summary(cohort.rule),
                                   "labels": summarize_labels(ext_labels),
                                   "counts": {"test": _counts(test, cohort.rule.labels)}}

    check_no_leakage(splits, external_tests, subsets={splitter.subset_name: "train"})

    with atomic_directory(params["out_dir"]) as tmp:
        for relative, table in tables.items():
            write_tsv(table, Path(tmp) / relative)
    metrics = {"seed": splitter.seed, "cohorts": metrics_of}
    write_json(metrics, params["metrics"])
    return metrics
