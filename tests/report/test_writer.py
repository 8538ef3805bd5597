"""medaug.report.writer (and the stage script): the whole report from small fake pipeline outputs in
tmp_path. Its statistics and training sets: test_statistics.py, test_trainsets.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from medaug.report import ReportInputError, summarize, write_report
from medaug.report.sources import report_sources
from pipelines import report as report_stage

LABELS = ("CN", "AD")
COHORTS = ("demo-train", "demo-external")
# balanced accuracy per run (3 runs) on demo-train / demo-external
BA = {
    "real": ([0.70, 0.80, 0.75], [0.60, 0.70, 0.65]),
    "real-50": ([0.60, 0.62, 0.64], [0.55, 0.57, 0.59]),
    "real-syn-20": ([0.80, 0.90, 0.85], [0.66, 0.68, 0.70]),
    "real-syn-10": ([0.72, 0.82, 0.80], [0.61, 0.71, 0.66]),
    "syn-10": ([0.50, 0.55, 0.60], [0.50, 0.50, 0.50]),
    "prior-syn-10": ([0.65, 0.66, 0.67], [0.60, 0.61, 0.62]),
}
PNG = b"\x89PNG\r\n\x1a\nnot really an image"
STEPS = 432   # optimisation steps of every fake run


def classify_params(root: Path) -> dict:
    return {
        "training_cohort": "demo-train", "external_cohorts": ["demo-external"],
        "labels": {"negative": "CN", "positive": "AD"},
        "synthetic_dir": "data/synthetic", "runs": [0, 1, 2],
        # deliberately out of thesis order
        "real_trainsets": {"real-50": {"real": "train-50"}, "real": {"real": "train"}},
        "synthetic_trainsets": {
            "real-syn-20": {"real": "train", "synthetic": 20},
            "prior-syn-10": {"real": "train", "synthetic": 10, "synthetic_dir": "data/synthetic/by_sampler/prior"},
            "syn-10": {"synthetic": 10},
            "real-syn-10": {"real": "train", "synthetic": 10},
        },
        "training": {"budget": {"unit": "steps", "steps": STEPS, "eval_every": 18, "epochs": 12}, "batch_size": 8},
        "evaluate": {"results_dir": str(root / "results/classify"), "metrics": str(root / "metrics/classify.json")},
    }


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def write_png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(PNG)


def fake_pipeline(root: Path) -> dict:
    """Every file the report reads, with known numbers; returns the parameter tree."""
    params = {
        "cohort": {"results_dir": str(root / "results/cohort"), "cohorts": {c: {} for c in COHORTS}},
        "split": {"metrics": str(root / "metrics/split.json")},
        "preprocess": {"out_dir": str(root / "data/preprocess"), "metrics_dir": str(root / "metrics/preprocess"),
                       "cohorts": list(COHORTS)},
        "train_vae": {"out_dir": str(root / "data/models"), "metrics_dir": str(root / "metrics/train_vae")},
        "sample": {"labels": list(LABELS), "sampler": "hmc", "compare_samplers": ["prior"], "n": 20, "montage_volumes": 2, "out_dir": str(root / "data/synthetic"),
                   "metrics_dir": str(root / "metrics")},
        "classify": classify_params(root),
        "report": {"out": str(root / "results/report.md"), "figures_dir": str(root / "results/report"),
                   "confidence": 0.95, "decimals": 1, "dpi": 40,
                   "panel_size_inches": [3.0, 2.5], "timings_dir": str(root / "metrics/timings")},
    }
    rows = []
    for trainset, per_cohort in BA.items():
        for cohort, values in zip(COHORTS, per_cohort):
            for run, ba in enumerate(values):
                rows.append({"trainset": trainset, "run": run, "cohort": cohort, "balanced_accuracy": ba,
                             "sensitivity": ba + 0.05, "specificity": ba - 0.05, "roc_auc": ba, "n_AD": 5, "n_CN": 5,
                             "optimisation_steps": STEPS, "images_seen": 8 * STEPS})
    out = Path(params["classify"]["evaluate"]["results_dir"])
    out.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(out / "runs.tsv", sep="\t", index=False)

    write_json(root / "metrics/split.json", {"cohorts": {
        "demo-train": {"counts": {"test": {"AD": 2, "CN": 2}, "train": {"AD": 6, "CN": 5}}},
        "demo-external": {"counts": {"test": {"AD": 3, "CN": 3}}}}})
    for cohort in COHORTS:
        images = pd.DataFrame({
            "participant_id": [f"sub-{cohort[:4]}{i}" for i in range(4)], "session_id": "ses-M000",
            "source": "bids", "status": ["ok", "ok", "qc_flagged", "error"], "ncc": [0.9, 0.8, 0.3, None],
            "qc_pass": [True, True, False, False], "in_model_ready": [True, True, False, False],
            "error": [None, None, None, "boom"]})
        (root / "data/preprocess" / cohort).mkdir(parents=True)
        images.to_csv(root / "data/preprocess" / cohort / "images.tsv", sep="\t", index=False, na_rep="n/a")
        write_png(root / "data/preprocess" / cohort / "qc_montage.png")
        write_json(root / "metrics/preprocess" / f"{cohort}.json", {"images": 4, "reused": 0, "median_seconds_per_image": 11.0})
        write_png(root / "results/cohort" / f"{cohort}_montage.png")
    for label in LABELS:
        curve = root / "data/models" / label / "training_curve.tsv"
        curve.parent.mkdir(parents=True)
        pd.DataFrame({"epoch": [1, 2, 3], "train_elbo": [-900.0, -500.0, -450.0],
                      "val_elbo": [-950.0, -520.0, -530.0]}).to_csv(curve, sep="\t", index=False)
        write_png(curve.with_suffix(".png"))
        write_json(root / "metrics/train_vae" / f"{label}.json",
                   {"model": "rhvae", "best_epoch": 2, "stop_reason": "max_epochs"})
        write_png(root / "data/synthetic" / label / "montage.png")
        write_json(root / "metrics" / f"sample_{label}.json",
                   {"label": label, "model": "rhvae", "sampler": "hmc", "n": 20, "acceptance_rate": 0.8125,
                    "seconds": 2.0, "volumes_per_second": 10.0})
        write_json(root / "metrics" / f"sample_prior_{label}.json",
                   {"label": label, "model": "rhvae", "sampler": "prior", "n": 10, "acceptance_rate": None,
                    "seconds": 1.0, "volumes_per_second": 10.0})
    write_json(root / "metrics/timings/cohort.json", {"stage": "cohort", "seconds": 60.0,
               "started": "2026-01-01T10:00:00+00:00", "finished": "2026-01-01T10:01:00+00:00"})
    write_json(root / "metrics/timings/split.json", {"stage": "split", "seconds": 30.0,
               "started": "2026-01-01T10:01:00+00:00", "finished": "2026-01-01T10:01:30+00:00"})
    return params


def section(text: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    assert match, f"no section {title!r}"
    return match.group(1)


def table_rows(block: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in block.splitlines()
            if line.startswith("|") and not line.startswith("|---")]


@pytest.fixture()
def built(tmp_path: Path) -> tuple[dict, str]:
    params = fake_pipeline(tmp_path)
    report_stage.main(["--params", str(write_params(tmp_path, params))])
    return params, Path(params["report"]["out"]).read_text()


def write_params(root: Path, params: dict) -> Path:
    import yaml

    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))  # keep the thesis-order test honest
    return path


def test_results_table_rows_and_values(built) -> None:
    _, text = built
    rows = table_rows(section(text, "Classification results"))
    header, body = rows[0], rows[1:]
    assert header[:2] == ["training set", "stage name"] and header[-2:] == ["steps / run", "runs"]
    assert header[2:5] == ["demo-train sens.", "demo-train spec.", "demo-train BA"]
    assert [r[1] for r in body] == ["real-50", "real", "syn-10", "real-syn-10", "real-syn-20", "prior-syn-10"]
    real = dict(zip(header, body[1]))
    assert real["training set"] == "real (train)"
    assert real["demo-train BA"] == "75.0 ± 5.0"
    assert real["demo-train sens."] == "80.0 ± 5.0" and real["demo-train spec."] == "70.0 ± 5.0"
    assert real["demo-external BA"] == "65.0 ± 5.0" and real["runs"] == "3" and real["steps / run"] == str(STEPS)


def test_comparison_intervals_and_paired_difference(built) -> None:
    _, text = built
    block = section(text, "Real-only vs augmented balanced accuracy")
    assert "t interval" in block
    rows = table_rows([t for t in block.split("\n\n") if t.startswith("|")][0])
    header, body = rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]
    assert header[-2:] == ["difference", "paired runs"]
    # three augmented sets on train x two cohorts; train-50 has no augmented set
    assert len(body) == 6 and {r["real-only"] for r in body} == {"real (train)"}
    row = next(r for r in body if r["augmented"] == "real (train) + synthetic 20 (hmc)"
               and r["test cohort"] == "demo-train")
    base, aug = summarize(BA["real"][0], 0.95), summarize(BA["real-syn-20"][0], 0.95)
    assert row["real-only BA"] == f"{100 * base.mean:.1f} [{100 * base.low:.1f}, {100 * base.high:.1f}]"
    assert row["augmented BA"].startswith(f"{100 * aug.mean:.1f} [")
    # per-run differences are all exactly +0.10: zero spread, so the interval collapses on 10.0
    assert row["difference"] == "10.0 [10.0, 10.0]" and row["paired runs"] == "3"
    assert row["steps / run (real-only, augmented)"] == f"{STEPS}, {STEPS}"
    assert "balanced_accuracy_vs_synthetic.png" in block


def test_paired_table_every_synthetic_set_and_cohort_with_runs_and_budget(built) -> None:
    _, text = built
    block = section(text, "Real-only vs augmented balanced accuracy")
    # the caption states the number of runs and the step budget, from the parameters and the runs
    assert "3 runs per training set (runs 0, 1, 2" in block
    assert f"{STEPS} optimisation steps, validation every 18 steps, batches of 8 images" in block
    assert f"Every run of every training set took {STEPS} optimisation steps." in block
    tables_in_block = [t for t in block.split("\n\n") if t.startswith("|")]
    assert len(tables_in_block) == 2
    rows = table_rows(tables_in_block[1])
    header, body = rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]
    assert header == ["test cohort", "augmented", "real-only", "run 0", "run 1", "run 2", "runs with a gain",
                      "mean [interval]"]
    # every real + synthetic set on every cohort, whatever its result (prior-syn-10 loses on demo-train)
    augmented = ["real (train) + synthetic 10 (hmc)", "real (train) + synthetic 20 (hmc)",
                 "real (train) + synthetic 10 (prior)"]
    assert sorted((r["augmented"], r["test cohort"]) for r in body) == sorted(
        (a, c) for a in augmented for c in COHORTS)
    row = next(r for r in body if r["augmented"] == augmented[0] and r["test cohort"] == "demo-train")
    assert [row["run 0"], row["run 1"], row["run 2"]] == ["+2.0", "+2.0", "+5.0"]
    assert row["runs with a gain"] == "3/3" and row["mean [interval]"] == "3.0 [-1.3, 7.3]"
    prior = next(r for r in body if r["augmented"] == augmented[2] and r["test cohort"] == "demo-train")
    assert [prior["run 0"], prior["run 1"], prior["run 2"]] == ["-5.0", "-14.0", "-8.0"]
    ext = next(r for r in body if r["augmented"] == augmented[2] and r["test cohort"] == "demo-external")
    assert [ext["run 0"], ext["runs with a gain"]] == ["0.0", "0/3"]   # a tie is no gain
    assert prior["runs with a gain"] == "0/3"


def test_unequal_steps_are_stated_per_set(tmp_path: Path) -> None:
    params = fake_pipeline(tmp_path)
    runs_path = Path(params["classify"]["evaluate"]["results_dir"]) / "runs.tsv"
    runs = pd.read_csv(runs_path, sep="\t")
    runs.loc[runs["trainset"] == "real-syn-20", "optimisation_steps"] = 3 * STEPS
    runs.to_csv(runs_path, sep="\t", index=False)
    params["classify"]["training"] = {"budget": {"unit": "epochs", "epochs": 12, "steps": None, "eval_every": None}}
    text = write_report(report_sources(params), params["report"]["out"],
                                     params["report"]["figures_dir"])
    block = section(text, "Real-only vs augmented balanced accuracy")
    assert "Training budget (`classify.training.budget`): 12 epochs, validation after each epoch." in block
    assert f"Optimisation steps per run differ between training sets: real-50 {STEPS}; real {STEPS}; " in block
    assert f"real-syn-20 {3 * STEPS};" in block


def test_figures_copied_and_linked(built, tmp_path: Path) -> None:
    params, text = built
    figures = Path(params["report"]["figures_dir"])
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) == 1 + 2 + 2 + 2 + 2  # BA plot, synthetic montages, VAE curves, QC montages, cohort montages
    for link in links:
        assert not Path(link).is_absolute() and link.startswith("report/")
        assert (Path(params["report"]["out"]).parent / link).is_file()
    assert (figures / "synthetic_montage_AD.png").read_bytes() == PNG
    assert (figures / "balanced_accuracy_vs_synthetic.png").read_bytes()[:4] == b"\x89PNG"


def test_qc_split_sampler_vae_and_timing_sections(built) -> None:
    _, text = built
    qc = section(text, "Preprocessing quality control")
    qc_rows = [dict(zip(table_rows(qc)[0], r)) for r in table_rows(qc)[1:3]]
    assert qc_rows[0] == {**qc_rows[0], "images": "4", "ok": "2", "qc_flagged": "1", "error": "1",
                               "in model-ready": "2", "NCC median": "0.800", "NCC min": "0.300",
                               "median s / image": "11.0"}
    assert "boom" in qc and "sub-demo2" in qc and "sub-demo0" not in qc
    splits = table_rows(section(text, "Cohorts and splits"))
    assert ["demo-train", "train", "6", "5", "11"] in splits
    synthetic = section(text, "Synthetic volumes")
    assert "0.812" in synthetic and "prior" in synthetic  # acceptance of hmc; the by-sampler run is listed
    vae = table_rows(section(text, "Generative model training"))
    assert dict(zip(vae[0], vae[1]))["best validation ELBO"] == "-520.0"
    timing = section(text, "Run time")
    assert "Sum over stages: 90.0 s (1.5 min)" in timing and "first start to last finish: 90.0 s" in timing
    assert "## Findings" not in text


def test_missing_inputs_are_named(tmp_path: Path) -> None:
    params = fake_pipeline(tmp_path)
    (tmp_path / "data/models/AD/training_curve.tsv").unlink()
    (tmp_path / "metrics/split.json").unlink()
    sources = report_sources(params)
    with pytest.raises(ReportInputError, match=r"training_curve\.tsv.*|split\.json") as err:
        write_report(sources, params["report"]["out"], params["report"]["figures_dir"])
    assert "data/models/AD/training_curve.tsv" in str(err.value) and "metrics/split.json" in str(err.value)
    assert not Path(params["report"]["out"]).exists()


def test_runs_table_must_cover_every_training_set(tmp_path: Path) -> None:
    params = fake_pipeline(tmp_path)
    params["classify"]["synthetic_trainsets"]["real-syn-50"] = {"real": "train", "synthetic": 50}
    with pytest.raises(ReportInputError, match=r"runs\.tsv: no runs for real-syn-50 on demo-train"):
        write_report(report_sources(params), params["report"]["out"],
                                  params["report"]["figures_dir"])


def test_convergence_table_from_the_runs_kept_and_stopped_steps(tmp_path: Path) -> None:
    params = fake_pipeline(tmp_path)
    runs_path = Path(params["classify"]["evaluate"]["results_dir"]) / "runs.tsv"
    runs = pd.read_csv(runs_path, sep="\t")
    kept = {0: 180, 1: 450, 2: 432}          # run 1 kept in the last fifth of 540 steps; 432 = 0.8 x 540 is not
    stopped = {0: 360, 1: 540, 2: 540}
    runs["step_cap"] = 540
    runs["kept_step"] = runs["run"].map(kept)
    runs["stopped_step"] = runs["run"].map(stopped)
    runs["optimisation_steps"] = runs["stopped_step"]
    runs["kept_in_last_fifth"] = runs["run"].map({0: False, 1: True, 2: False})
    runs["stop_reason"] = runs["run"].map({0: "patience", 1: "cap", 2: "cap"})
    runs["selection"] = "validation_loss"
    runs.loc[runs["trainset"] == "real-syn-20", "kept_step"] = 500      # every run in the last fifth
    runs.loc[runs["trainset"] == "real-syn-20", "kept_in_last_fifth"] = True
    runs["at_chance"] = (runs["trainset"] == "syn-10") & (runs["run"] == 2)   # one stuck run
    runs.to_csv(runs_path, sep="\t", index=False)
    params["classify"]["training"].update(selection="validation_loss", patience=10, smoothing_window=5)
    text = write_report(report_sources(params), params["report"]["out"], params["report"]["figures_dir"])

    block = section(text, "Classifier convergence")
    rows = table_rows(block)
    header, body = rows[0], {r[1]: dict(zip(rows[0], r)) for r in rows[1:]}
    assert header[-3:] == ["stopped early", "kept in last 20 % of cap", "at chance (runs)"]
    assert list(body) == ["real-50", "real", "syn-10", "real-syn-10", "real-syn-20", "prior-syn-10"]
    assert body["real"] == {**body["real"], "selection": "validation_loss", "step cap": "540",
                            "kept step (min / median / max)": "180 / 432 / 450",
                            "stopped step (min / median / max)": "360 / 540 / 540",
                            "stopped early": "1/3", "kept in last 20 % of cap": "1/3"}
    assert body["real-syn-20"]["kept in last 20 % of cap"] == "3/3"
    assert body["syn-10"]["at chance (runs)"] == "1/3 (2)" and body["real"]["at chance (runs)"] == "0/3"
    assert body["real-syn-20"]["kept step (min / median / max)"] == "500 / 500 / 500"
    # the results table gives the cap, not the steps each run took
    results = table_rows(section(text, "Classification results"))
    assert results[0][-2] == "step cap / run" and dict(zip(results[0], results[2]))["step cap / run"] == "540"
    paired = section(text, "Real-only vs augmented balanced accuracy")
    assert "Every run of every training set had the same cap of 540 optimisation steps" in paired
    assert "kept checkpoint: lowest validation loss, early stopping after 10 validations without improvement" in paired


def test_runs_without_kept_steps_say_so(built) -> None:
    _, text = built
    assert "records no kept and stopped steps" in section(text, "Classifier convergence")


def test_report_names_the_configured_classes(tmp_path: Path) -> None:
    params = fake_pipeline(tmp_path)
    params["classify"]["labels"] = {"negative": "HC", "positive": "PD"}
    params["report"]["docs_dir"] = str(tmp_path / "docs" / "results")
    report_stage.main(["--params", str(write_params(tmp_path, params))])
    text = Path(params["report"]["out"]).read_text()
    assert "sensitivity (PD recall), specificity (HC recall)" in text and "AD recall" not in text
    classifiers = (tmp_path / "docs" / "results" / "classifiers.md").read_text()
    assert classifiers.count("PD-vs-HC classifiers") == 1 and "Sensitivity (PD recall), specificity (HC recall)" in classifiers
    assert "AD" not in classifiers and "CN" not in classifiers


def test_report_without_classify_labels_says_which_key(tmp_path: Path) -> None:
    params = fake_pipeline(tmp_path)
    del params["classify"]["labels"]
    with pytest.raises(ValueError, match="classify.labels must name the two classes"):
        report_stage.main(["--params", str(write_params(tmp_path, params))])
