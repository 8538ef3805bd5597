"""Real + synthetic against real under two classifier protocols: the demo's and the thesis'.

    python -m benchmarks.studies.classifier_protocols [--params params.yaml] [--runs 0 1 2 3 4]
        [--trainsets real real-synthetic-200] [--out /tmp/classifier_protocols]
        [--write benchmarks/results/classifier_protocols.md] [--demo-runs 0 1 ... 19] [--skip-thesis]

Trains the chosen training sets of ``classify`` (same splits, synthetic volumes and seeds as the
pipeline) under the thesis' protocol (Chadebec, PhD thesis, sec. 1.5.5: 100 epochs, the epoch
with the best real-validation balanced accuracy is kept, no early stop) into ``--out``, evaluates
them on every test cohort, and prints, for both protocols, each set's balanced accuracy and its
paired difference to real-only (same run index: same seed, same test images) with a 95 % t
interval. The demo protocol's figures are read from the pipeline's ``results/classify/runs.tsv``
(run ``dvc repro`` first), or, with ``--demo-runs``, from that many runs trained here under the
demo's own settings (more paired runs than the pipeline's, e.g. the thesis' 20); ``--skip-thesis``
leaves the thesis protocol out. Not a test: it reads the finished pipeline outputs.
"""

from __future__ import annotations

import argparse
import copy
import shutil
import sys
from pathlib import Path

import pandas as pd
import yaml


from medaug.classify.stage import run as train_trainset  # noqa: E402
from medaug.evaluate.stage import run as evaluate_runs  # noqa: E402
from medaug.report.statistics import paired_difference, summarize  # noqa: E402

THESIS = {"budget": {"unit": "epochs", "epochs": 100}, "selection": "balanced_accuracy", "patience": None}


def _restricted(classify: dict, trainsets: list[str]) -> dict:
    params = copy.deepcopy(classify)
    for group in ("real_trainsets", "synthetic_trainsets"):
        params[group] = {k: v for k, v in (params.get(group) or {}).items() if k in trainsets}
    return params


def paired_table(runs: pd.DataFrame, reference: str = "real", confidence: float = 0.95) -> pd.DataFrame:
    """Per training set and cohort: mean BA [t interval] and the paired difference to ``reference`` (points)."""
    rows = []
    for (trainset, cohort), group in runs.groupby(["trainset", "cohort"], sort=False):
        ba = dict(zip(group["run"], 100.0 * group["balanced_accuracy"]))
        base = runs[(runs["trainset"] == reference) & (runs["cohort"] == cohort)]
        level = summarize(ba.values(), confidence)
        row = {"trainset": trainset, "cohort": cohort, "runs": level.n,
               "BA": f"{level.mean:.1f} [{level.low:.1f}, {level.high:.1f}]", "difference": ""}
        if trainset != reference:
            diff = paired_difference(ba, dict(zip(base["run"], 100.0 * base["balanced_accuracy"])), confidence).summary
            gains = sum(v > 0 for v in (ba[k] - b for k, b in zip(base["run"], 100.0 * base["balanced_accuracy"]) if k in ba))
            row["difference"] = f"{diff.mean:+.1f} [{diff.low:+.1f}, {diff.high:+.1f}] ({gains}/{diff.n})"
        kept = group["kept_step"] if "kept_step" in group else pd.Series(dtype=float)
        row["kept step (median)"] = "n/a" if kept.isna().all() else f"{kept.median():.0f}"
        rows.append(row)
    return pd.DataFrame(rows)


def _train_missing_runs(params: dict, trainset: str, out: Path) -> None:
    """Train the runs of ``params["runs"]`` that ``out/classify/<trainset>/`` lacks (all of them when the
    folder is absent) in a staging folder, then move each ``run-<k>/`` in: more runs can be added to a
    finished study without retraining the ones it has."""
    target = out / "classify" / trainset
    missing = [k for k in params["runs"] if not (target / f"run-{k}").is_dir()]
    if not missing:
        return
    staging = out / "staging"
    shutil.rmtree(staging / trainset, ignore_errors=True)
    train_trainset({**params, "runs": missing, "out_dir": str(staging)}, trainset)
    target.mkdir(parents=True, exist_ok=True)
    for k in missing:
        (staging / trainset / f"run-{k}").rename(target / f"run-{k}")
    shutil.rmtree(staging / trainset)


def _train_and_evaluate(params: dict, trainsets: list[str], out: Path) -> pd.DataFrame:
    """Train ``trainsets`` under ``params`` into ``out/classify`` (runs already there are kept), evaluate
    every run on the test cohorts into ``out/results``; return the runs table."""
    params = copy.deepcopy(params)
    params["out_dir"] = str(out / "classify")
    params["evaluate"] = {**params["evaluate"], "results_dir": str(out / "results"), "metrics": str(out / "classify.json")}
    for trainset in trainsets:
        _train_missing_runs(params, trainset, out)
    evaluate_runs(params)
    return pd.read_csv(out / "results" / "runs.tsv", sep="\t")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--runs", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--trainsets", nargs="+", default=["real", "real-synthetic-200"])
    parser.add_argument("--out", default="/tmp/classifier_protocols")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--write", default=None, help="also write the tables to this markdown file")
    parser.add_argument("--demo-runs", nargs="+", type=int, default=None,
                        help="train these runs under the demo protocol instead of reading the pipeline's runs.tsv")
    parser.add_argument("--skip-thesis", action="store_true", help="leave the thesis protocol out")
    args = parser.parse_args()
    classify = yaml.safe_load(Path(args.params).read_text())["classify"]
    out = Path(args.out)
    tables = []
    if args.demo_runs:
        demo = _restricted(classify, args.trainsets)
        demo.update(runs=list(args.demo_runs), threads=args.threads)
        demo["training"] = {**demo["training"], "progress": False}
        demo_runs = _train_and_evaluate(demo, args.trainsets, out / "demo")
    else:
        demo_runs = pd.read_csv(Path(classify["evaluate"]["results_dir"]) / "runs.tsv", sep="\t")
        demo_runs = demo_runs[demo_runs["trainset"].isin(args.trainsets)]
    tables.append((f"demo protocol (early stopping on validation loss under a step cap), {demo_runs['run'].nunique()} runs",
                   demo_runs))
    if not args.skip_thesis:
        thesis = _restricted(classify, args.trainsets)
        thesis["runs"] = list(args.runs)
        thesis["threads"] = args.threads
        thesis["training"] = {**thesis["training"], **THESIS, "progress": False}
        tables.append((f"thesis protocol (100 epochs, best validation balanced accuracy), {len(args.runs)} runs",
                       _train_and_evaluate(thesis, args.trainsets, out)))
    text = ["# Real + synthetic against real, by classifier protocol", "",
            "Command: `python -m benchmarks.studies.classifier_protocols " + " ".join(sys.argv[1:]) + "`", "",
            "Balanced accuracy in %, mean [95 % t interval]; difference: paired by run (same seed, same test "
            "images), mean [95 % t interval] (runs with a gain / runs).", ""]
    for name, runs in tables:
        text += [f"## {name}", "", paired_table(runs).to_markdown(index=False), ""]
    print("\n".join(text))
    if args.write:
        Path(args.write).write_text("\n".join(text))


if __name__ == "__main__":
    main()
