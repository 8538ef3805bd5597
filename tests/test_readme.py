"""The README's classifier table is the committed demo run's, recomputed from
``results/classify/runs.tsv``: its numbers cannot drift from the run they describe.

``python -m tests.test_readme`` prints the rows the README must hold.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from medaug.report.statistics import paired_difference, summarize

ROOT = Path(__file__).resolve().parents[1]
CONFIDENCE = 0.95
COHORTS = ("demo-train", "demo-external")
ROWS = (  # README label, training set of classify
    ("real", "real"),
    ("real + 200 RHVAE-HMC / label", "real-synthetic-200"),
    ("real + classic augmentation", "real-augmented"),
    ("200 synthetic / label only", "synthetic-200"),
)


def _signed(value: float) -> str:
    return f"{value:+.1f}".replace("-", "\u2212")


def _plain(value: float) -> str:
    return f"{value:.1f}".replace("-", "\u2212")


def classifier_rows(runs: pd.DataFrame) -> list[str]:
    """One Markdown row per README training set: BA % [95 % t interval] per test cohort, then the
    difference to real-only paired by run [95 % t interval] (a dash for real-only)."""
    def ba(trainset: str, cohort: str) -> dict[int, float]:
        rows = runs[(runs["trainset"] == trainset) & (runs["cohort"] == cohort)]
        return dict(zip(rows["run"].astype(int), 100.0 * rows["balanced_accuracy"]))

    lines = []
    for label, trainset in ROWS:
        levels = [summarize(ba(trainset, c).values(), CONFIDENCE) for c in COHORTS]
        cells = [f"{_plain(s.mean)} [{_plain(s.low)}, {_plain(s.high)}]" for s in levels]
        for cohort in COHORTS:
            if trainset == "real":
                cells.append("\u2013")
                continue
            diff = paired_difference(ba(trainset, cohort), ba("real", cohort), CONFIDENCE).summary
            cells.append(f"{_signed(diff.mean)} [{_signed(diff.low)}, {_signed(diff.high)}]")
        lines.append("| " + " | ".join([label, *cells]) + " |")
    return lines


def test_the_readme_classifier_table_is_the_committed_run():
    runs = pd.read_csv(ROOT / "results/classify/runs.tsv", sep="\t")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [row for row in classifier_rows(runs) if row not in readme]
    assert missing == [], "README rows that differ from results/classify/runs.tsv (python -m tests.test_readme):\n" + "\n".join(missing)


def test_a_changed_number_is_caught():
    runs = pd.read_csv(ROOT / "results/classify/runs.tsv", sep="\t")
    before = classifier_rows(runs)
    runs.loc[(runs["trainset"] == "real-synthetic-200") & (runs["run"] == 0), "balanced_accuracy"] -= 0.05
    after = classifier_rows(runs)
    assert before[0] == after[0] and before[1] != after[1]


def test_the_readme_stays_short():
    assert len((ROOT / "README.md").read_bytes()) <= 8192


if __name__ == "__main__":
    print("\n".join(classifier_rows(pd.read_csv(ROOT / "results/classify/runs.tsv", sep="\t"))))
