"""The report's tables, as pandas frames of display strings, built from the pipeline's outputs.

Every function takes data already read (frames, dicts) and returns a frame ready for
:func:`medaug.report.markdown.table`; reading files is :mod:`medaug.report.writer`'s job.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from medaug.classify.evaluate import summarize_convergence
from medaug.report.markdown import MISSING, mean_std, number, percent
from medaug.report.statistics import paired_difference, summarize
from medaug.report.trainsets import TrainingSet, baseline_of

RUN_COLUMNS = ("trainset", "run", "cohort", "balanced_accuracy", "sensitivity", "specificity")
THESIS_METRICS = (("sensitivity", "sens."), ("specificity", "spec."), ("balanced_accuracy", "BA"))
STEPS_COLUMN = "optimisation_steps"   # optional column of runs.tsv (Adam steps the run took)
CAP_COLUMN = "step_cap"               # optional column of runs.tsv (Adam steps the budget allowed)


def _runs_of(runs: pd.DataFrame, trainset: str, cohort: str) -> pd.DataFrame:
    return runs[(runs["trainset"] == trainset) & (runs["cohort"] == cohort)]


def effort_column(runs: pd.DataFrame) -> str:
    """The step cap where runs.tsv records it (early stopping makes the steps taken differ by run),
    else the optimisation steps taken (runs trained to the end of their budget)."""
    return CAP_COLUMN if CAP_COLUMN in runs and runs[CAP_COLUMN].notna().any() else STEPS_COLUMN


def steps_label(runs: pd.DataFrame) -> str:
    """Column title of the step counts of :func:`steps_per_run`."""
    return "step cap / run" if effort_column(runs) == CAP_COLUMN else "steps / run"


def steps_per_run(runs: pd.DataFrame, trainset: str) -> list[int]:
    """The distinct step caps (or, without them, optimisation-step counts) of a training set's runs
    (empty if not recorded)."""
    column = effort_column(runs)
    if column not in runs:
        return []
    values = pd.to_numeric(runs.loc[runs["trainset"] == trainset, column], errors="coerce").dropna()
    return sorted({int(v) for v in values})


def _steps_text(steps: Sequence[int]) -> str:
    return "/".join(str(s) for s in steps) if steps else MISSING


def effort_statement(runs: pd.DataFrame, sets: Sequence[TrainingSet]) -> str:
    """One sentence on the optimisation steps the runs took: equal for every set, or per set."""
    per_set = {s.name: steps_per_run(runs, s.name) for s in sets}
    if not any(per_set.values()):
        return "The runs did not record their optimisation steps."
    capped = effort_column(runs) == CAP_COLUMN
    distinct = {tuple(v) for v in per_set.values()}
    if len(distinct) == 1 and len(next(iter(distinct))) == 1:
        steps = next(iter(distinct))[0]
        return (f"Every run of every training set had the same cap of {steps} optimisation steps (the steps "
                "kept and taken: the convergence table)." if capped
                else f"Every run of every training set took {steps} optimisation steps.")
    return (("Step caps" if capped else "Optimisation steps") + " per run differ between training sets: "
            + "; ".join(f"{name} {_steps_text(v)}" for name, v in per_set.items()) + ".")


def run_indices(runs: pd.DataFrame) -> list[int]:
    """The run indices present in the per-run table, sorted."""
    return sorted({int(r) for r in runs["run"]})


def results_table(runs: pd.DataFrame, sets: Sequence[TrainingSet], cohorts: Sequence[str], decimals: int) -> pd.DataFrame:
    """Thesis-style table: one row per training set; per test cohort sensitivity, specificity and
    balanced accuracy as mean ± sd (ddof=1) over runs, in percent; then the optimisation steps per
    run and the number of runs."""
    rows = []
    for trainset in sets:
        row = {"training set": trainset.label, "stage name": trainset.name}
        counts = []
        for cohort in cohorts:
            group = _runs_of(runs, trainset.name, cohort)
            counts.append(len(group))
            for metric, short in THESIS_METRICS:
                values = group[metric].astype(float)
                std = values.std(ddof=1) if values.notna().sum() > 1 else float("nan")
                row[f"{cohort} {short}"] = mean_std(values.mean(), std, decimals)
        row[steps_label(runs)] = _steps_text(steps_per_run(runs, trainset.name))
        row["runs"] = "/".join(str(c) for c in dict.fromkeys(counts))
        rows.append(row)
    return pd.DataFrame(rows)


def _interval(summary, decimals: int) -> str:
    if summary.n == 0:
        return MISSING
    return f"{percent(summary.mean, decimals)} [{percent(summary.low, decimals)}, {percent(summary.high, decimals)}]"


def _ba_by_run(runs: pd.DataFrame, trainset: str, cohort: str) -> dict[int, float]:
    group = _runs_of(runs, trainset, cohort)
    return {int(k): float(v) for k, v in zip(group["run"], group["balanced_accuracy"])}


def paired_rows(runs: pd.DataFrame, sets: Sequence[TrainingSet], cohorts: Sequence[str], confidence: float):
    """(cohort, baseline, augmented set, PairedDifference) for every set with a real-only baseline,
    every cohort: no row is left out, whatever its result."""
    for trainset in sets:
        baseline = baseline_of(trainset, list(sets))
        if baseline is None:
            continue
        for cohort in cohorts:
            yield cohort, baseline, trainset, paired_difference(
                _ba_by_run(runs, trainset.name, cohort), _ba_by_run(runs, baseline.name, cohort), confidence)


def comparison_table(runs: pd.DataFrame, sets: Sequence[TrainingSet], cohorts: Sequence[str],
                     confidence: float, decimals: int) -> pd.DataFrame:
    """Real-only vs augmented balanced accuracy per test cohort, with t intervals over runs.

    For every training set with real images other than the plain real-only baseline of its split,
    one row per cohort: the baseline's and the augmented set's mean BA with their t intervals, the
    mean of the per-run differences (runs paired by index: same seed, same test images) with its
    paired t interval, the number of paired runs, and the optimisation steps per run of each side.
    """
    rows = []
    for cohort, baseline, trainset, paired in paired_rows(runs, sets, cohorts, confidence):
        rows.append({
            "test cohort": cohort, "real-only": baseline.label, "augmented": trainset.label,
            "real-only BA": _interval(summarize(_ba_by_run(runs, baseline.name, cohort).values(), confidence), decimals),
            "augmented BA": _interval(summarize(_ba_by_run(runs, trainset.name, cohort).values(), confidence), decimals),
            f"{steps_label(runs)} (real-only, augmented)": f"{_steps_text(steps_per_run(runs, baseline.name))}, "
                                                         f"{_steps_text(steps_per_run(runs, trainset.name))}",
            "difference": _interval(paired.summary, decimals),
            "paired runs": len(paired.differences),
        })
    return pd.DataFrame(rows, columns=["test cohort", "real-only", "augmented", "real-only BA", "augmented BA",
                                       f"{steps_label(runs)} (real-only, augmented)", "difference", "paired runs"])


CONVERGENCE_COLUMNS = ("kept_step", "stopped_step", "step_cap", "kept_in_last_fifth")


def has_convergence(runs: pd.DataFrame) -> bool:
    """Whether runs.tsv records where each run's kept checkpoint lies (kept, stopped and cap steps)."""
    return all(c in runs for c in CONVERGENCE_COLUMNS) and runs["kept_step"].notna().any()


def _min_median_max(entry: Mapping[str, Any]) -> str:
    return " / ".join(number(entry.get(k), 1) if isinstance(entry.get(k), float) else number(entry.get(k), 0)
                      for k in ("min", "median", "max"))


def convergence_table(runs: pd.DataFrame, sets: Sequence[TrainingSet]) -> pd.DataFrame:
    """Per training set, where the runs' kept checkpoints lie in the step budget: the selection
    criterion, the step cap, the kept and stopped steps (min / median / max over runs), how many
    runs stopped early (patience) and how many kept a checkpoint in the last 20 % of the cap (not
    clearly converged). Built with :func:`medaug.classify.evaluate.summarize_convergence`, as the
    metrics of the evaluate stage."""
    summary = summarize_convergence(runs)
    rows = []
    for trainset in sets:
        entry = summary.get(trainset.name)
        if entry is None:
            continue
        n = entry["n_runs"]
        rows.append({
            "training set": trainset.label, "stage name": trainset.name, "selection": entry["selection"] or MISSING,
            "step cap": _min_median_max(entry["step_cap"]) if entry["step_cap"]["min"] != entry["step_cap"]["max"]
            else number(entry["step_cap"]["max"], 0),
            "kept step (min / median / max)": _min_median_max(entry["kept_step"]),
            "stopped step (min / median / max)": _min_median_max(entry["stopped_step"]),
            "stopped early": MISSING if entry["stopped_early"] is None else f"{entry['stopped_early']}/{n}",
            "kept in last 20 % of cap": MISSING if entry["kept_in_last_fifth"] is None
            else f"{entry['kept_in_last_fifth']}/{n}",
            "at chance (runs)": MISSING if entry.get("at_chance") is None
            else f"{entry['at_chance']}/{n}" + (f" ({', '.join(map(str, entry['runs_at_chance']))})"
                                                 if entry["at_chance"] else ""),
        })
    return pd.DataFrame(rows, columns=["training set", "stage name", "selection", "step cap",
                                       "kept step (min / median / max)", "stopped step (min / median / max)",
                                       "stopped early", "kept in last 20 % of cap", "at chance (runs)"])


def _signed(value: float, decimals: int) -> str:
    """A difference of fractions in signed percentage points, e.g. ``+2.5``, ``0.0``; NaN as ``n/a``."""
    if not math.isfinite(value):
        return MISSING
    points = round(100.0 * value, decimals)
    return f"{points:+.{decimals}f}" if points != 0 else f"{0.0:.{decimals}f}"


def paired_runs_table(runs: pd.DataFrame, sets: Sequence[TrainingSet], cohorts: Sequence[str],
                      confidence: float, decimals: int) -> pd.DataFrame:
    """The per-run differences behind :func:`comparison_table`: one row per (augmented set, test
    cohort), one column per run (augmented − real-only balanced accuracy, percentage points, signed;
    ``n/a`` where one side lacks that run), then how many runs gained and the paired mean [interval]."""
    all_runs = run_indices(runs)
    rows = []
    for cohort, baseline, trainset, paired in paired_rows(runs, sets, cohorts, confidence):
        row = {"test cohort": cohort, "augmented": trainset.label, "real-only": baseline.label}
        for k in all_runs:
            row[f"run {k}"] = _signed(paired.differences[k], decimals) if k in paired.differences else MISSING
        gains = sum(1 for v in paired.differences.values() if round(v, 12) > 0)   # float noise is no gain
        row["runs with a gain"] = f"{gains}/{len(paired.differences)}"
        row["mean [interval]"] = _interval(paired.summary, decimals)
        rows.append(row)
    return pd.DataFrame(rows, columns=["test cohort", "augmented", "real-only", *[f"run {k}" for k in all_runs],
                                       "runs with a gain", "mean [interval]"])


def qc_table(images: Mapping[str, pd.DataFrame], decimals: int, runs: Mapping[str, Mapping] | None = None) -> pd.DataFrame:
    """Per cohort: images by preprocessing status, images kept for the models, NCC median / min
    (``images.tsv`` of the preprocess stage), and the median seconds per registered image of the
    last run (``runs``: cohort -> the stage's metrics, ``median_seconds_per_image``; "n/a" if absent)."""
    rows = []
    for cohort, frame in images.items():
        status = frame["status"].value_counts()
        ncc = frame["ncc"].astype(float)
        rows.append({
            "cohort": cohort, "images": len(frame),
            "ok": int(status.get("ok", 0)), "qc_flagged": int(status.get("qc_flagged", 0)),
            "error": int(status.get("error", 0)),
            "in model-ready": int(frame["in_model_ready"].astype(str).str.lower().eq("true").sum()),
            "NCC median": number(ncc.median(), decimals + 2), "NCC min": number(ncc.min(), decimals + 2),
            "median s / image": number((runs or {}).get(cohort, {}).get("median_seconds_per_image"), decimals),
        })
    return pd.DataFrame(rows)


def flagged_images(images: Mapping[str, pd.DataFrame], decimals: int) -> pd.DataFrame:
    """Every image whose status is not ``ok`` (QC-flagged or failed), with its NCC and error."""
    rows = []
    for cohort, frame in images.items():
        for record in frame[frame["status"] != "ok"].to_dict("records"):
            rows.append({"cohort": cohort, "participant_id": record["participant_id"],
                         "session_id": record["session_id"], "status": record["status"],
                         "NCC": number(float(record["ncc"]), decimals + 2),
                         "error": record.get("error") if isinstance(record.get("error"), str) else ""})
    return pd.DataFrame(rows, columns=["cohort", "participant_id", "session_id", "status", "NCC", "error"])


def split_table(split_metrics: Mapping[str, Any]) -> pd.DataFrame:
    """Participants per cohort, split and label (``metrics/split.json`` of the split stage)."""
    rows = []
    for cohort, entry in (split_metrics.get("cohorts") or {}).items():
        for split, counts in (entry.get("counts") or {}).items():
            rows.append({"cohort": cohort, "split": split, **{str(k): int(v) for k, v in counts.items()},
                         "total": int(sum(counts.values()))})
    frame = pd.DataFrame(rows)
    return frame.fillna(0).astype({c: int for c in frame.columns if c not in ("cohort", "split")}) if rows else frame


def sampler_table(sample_metrics: Sequence[Mapping[str, Any]], decimals: int) -> pd.DataFrame:
    """Per sample-stage run: label, model, sampler, images, mean acceptance rate (MCMC samplers),
    seconds and volumes per second."""
    rows = [{"label": m.get("label"), "model": m.get("model"), "sampler": m.get("sampler"), "n": m.get("n"),
             "acceptance rate": number(m.get("acceptance_rate"), decimals + 2),
             "seconds": number(m.get("seconds"), decimals),
             "volumes / s": number(m.get("volumes_per_second"), decimals)} for m in sample_metrics]
    return pd.DataFrame(rows, columns=["label", "model", "sampler", "n", "acceptance rate", "seconds", "volumes / s"])


def vae_table(curves: Mapping[str, pd.DataFrame], vae_metrics: Mapping[str, Mapping[str, Any]], decimals: int) -> pd.DataFrame:
    """Per label: epochs run, selected epoch, last training ELBO and best validation ELBO (nats per
    sample), why training stopped, and (from the train_vae metrics when present) the latent size,
    the metric temperature and the held-out bounds of the start, the kept model and its linear path
    alone, with the kept model's gain over each."""
    rows = []
    for label, curve in curves.items():
        info = vae_metrics.get(label, {})
        validation = curve["val_elbo"].astype(float) if "val_elbo" in curve else pd.Series(dtype=float)
        rows.append({
            "label": label, "model": info.get("model", MISSING), "epochs": len(curve),
            "selected epoch": info.get("best_epoch", MISSING),
            "last train ELBO": number(float(curve["train_elbo"].iloc[-1]), decimals) if len(curve) else MISSING,
            "best validation ELBO": number(validation.max(), decimals) if validation.notna().any() else MISSING,
            "stop": info.get("stop_reason", MISSING),
            **held_out_bounds(info, decimals),
        })
    return pd.DataFrame(rows)


def held_out_bounds(info: Mapping[str, Any], decimals: int) -> dict[str, Any]:
    """Latent size, noise sd, metric temperature and the held-out bounds of the untrained start, the
    kept model, its linear path alone (networks zeroed) and the label's own PPCA (the thesis' start,
    one model per class), from the train_vae metrics."""
    bounds = info.get("validation_bounds") or {}
    chosen = info.get("chosen_settings") or {}
    kept, start, zeroed, own = (bounds.get(k) for k in ("kept", "start", "networks_zeroed", "label_ppca"))
    gain = lambda other: number(kept - other, decimals) if kept is not None and other is not None else MISSING  # noqa: E731
    return {"latent size": info.get("latent_size", MISSING),
            "s": number(chosen.get("observation_std"), decimals + 2),
            "metric T": number(chosen.get("metric_temperature"), decimals + 2),
            "validation bound: start": number(start, decimals),
            "kept": number(kept, decimals),
            "networks zeroed": number(zeroed, decimals),
            "label's own PPCA": number(own, decimals),
            "kept - start": gain(start), "kept - networks zeroed": gain(zeroed), "kept - own PPCA": gain(own)}


def timing_table(timings: Sequence[Mapping[str, Any]], decimals: int) -> tuple[pd.DataFrame, float, float | None]:
    """Stages by start time with their wall seconds; returns (table, sum of seconds, elapsed seconds
    from the first start to the last finish, None without timings). Stages that ran in parallel make
    the sum larger than the elapsed time."""
    ordered = sorted(timings, key=lambda t: str(t.get("started", "")))
    frame = pd.DataFrame([{"stage": t["stage"], "seconds": number(float(t["seconds"]), decimals),
                           "minutes": number(float(t["seconds"]) / 60.0, decimals),
                           "started": t.get("started", MISSING), "finished": t.get("finished", MISSING)}
                          for t in ordered], columns=["stage", "seconds", "minutes", "started", "finished"])
    total = float(sum(float(t["seconds"]) for t in ordered))
    try:
        starts = [datetime.fromisoformat(t["started"]) for t in ordered]
        ends = [datetime.fromisoformat(t["finished"]) for t in ordered]
        elapsed = (max(ends) - min(starts)).total_seconds() if ordered else None
    except (KeyError, TypeError, ValueError):
        elapsed = None
    return frame, total, elapsed
