"""medaug.report.docs_pages: the docs site's results pages, written by the report stage and, from
the git-tracked inputs only, by ``python -m medaug.report.docs_pages``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from medaug.report.docs_pages import PAGES, ResultsData, main, results_pages
from medaug.report.trainsets import TrainingSet
from medaug.report.writer import ReportSettings
from pipelines import report as report_stage
from tests.report.test_writer import fake_pipeline, table_rows, write_params


def _stage_pages(tmp_path: Path) -> tuple[Path, Path]:
    params = fake_pipeline(tmp_path)
    params["report"]["docs_dir"] = str(tmp_path / "docs/results")
    path = write_params(tmp_path, params)
    report_stage.main(["--params", str(path)])
    return path, tmp_path / "docs/results"


def test_the_report_stage_writes_every_page_with_computed_verdicts(tmp_path) -> None:
    _, pages = _stage_pages(tmp_path)
    assert sorted(p.name for p in pages.iterdir()) == sorted(PAGES)
    classifiers = (pages / "classifiers.md").read_text()
    verdicts = [dict(zip(rows[0], r)) for rows in [table_rows(block) for block in classifiers.split("\n\n")
                                                    if block.startswith("| test cohort | augmented | difference")]
                for r in rows[1:]]
    by_key = {(v["test cohort"], v["augmented"]): v for v in verdicts}
    # real-syn-20 gains exactly 10 points in every run on demo-train: the interval lies above 0
    assert by_key[("demo-train", "real (train) + synthetic 20 (hmc)")]["difference interval"] == "above 0"
    assert by_key[("demo-train", "real (train) + synthetic 20 (hmc)")]["runs with a gain"] == "3/3"
    # real-syn-10 gains 2, 2 and 5 points: t interval on 2 degrees of freedom reaches below 0
    assert by_key[("demo-train", "real (train) + synthetic 10 (hmc)")]["difference interval"] == "contains 0"
    # and exactly 1 point on demo-external (above 0); the other four intervals cross 0
    assert by_key[("demo-external", "real (train) + synthetic 10 (hmc)")]["difference interval"] == "above 0"
    assert len(verdicts) == 6
    assert "above 0: 2 of 6, contains 0: 4 of 6, below 0: 0 of 6" in classifiers
    index = (pages / "index.md").read_text()
    assert "[Classifiers](classifiers.md)" in index and "above 0: 2 of 6" in index
    assert "No audit checks were found." in (pages / "audit.md").read_text()


def test_the_command_line_writes_the_same_pages_without_the_dvc_data(tmp_path) -> None:
    params, pages = _stage_pages(tmp_path)
    written = {name: (pages / name).read_text() for name in PAGES}
    shutil.rmtree(tmp_path / "data")            # what DVC keeps: not on a fresh clone
    shutil.rmtree(pages)
    assert main(["--params", str(params)]) == 0
    assert {name: (pages / name).read_text() for name in PAGES} == written


def test_generative_and_audit_pages_from_their_metrics() -> None:
    runs = pd.DataFrame({"trainset": ["real"] * 2, "run": [0, 1], "cohort": ["c"] * 2,
                         "balanced_accuracy": [0.7, 0.8], "sensitivity": [0.7, 0.8], "specificity": [0.7, 0.8]})
    vae = {"CN": {"model": "rhvae", "latent_size": 20, "best_epoch": 3, "epochs_run": 9,
                  "validation_bounds": {"start": 100.0, "kept": 97.5, "networks_zeroed": 99.0},
                  "chosen_settings": {"latent_size_scores": {"10": 90.0, "20": 95.0}}}}
    criteria = {"criterion_ms_ssim_margin": 0.02, "criterion_min_precision": 0.5, "criterion_min_recall": 0.3,
                "criterion_max_near_copies": 0, "criterion_max_share_closer_than_reconstructions": 0.15,
                "reconstruction_quantile": 0.05}
    checks = pd.DataFrame([
        {"sampler": "hmc", "label": "CN", "diversity_ok": False, "fidelity_ok": True, "memorisation_ok": False,
         "passed": False, **criteria},
        {"sampler": "prior", "label": "CN", "diversity_ok": True, "fidelity_ok": True, "memorisation_ok": True,
         "passed": True, **criteria}]).astype(object)
    data = ResultsData(runs, [TrainingSet("real", real="train", n_synthetic=0, sampler=None)], ["c"], vae, checks)
    pages = results_pages(data, ReportSettings(docs_dir="unused"))
    generative = pages["generative-models.md"]
    assert "CN: the kept model's held-out bound lies 2.5 nats below its PPCA start." in generative
    assert "(chosen: CN 20)" in generative and "| 20 | 95.0 |" in generative
    vae["AD"] = {**vae["CN"], "latent_size": 10, "chosen_settings": {
        "observation_std": 0.05, "held_out_ppca_scores": {"s=0.05": {"10": 99.0, "20": 98.0}, "s=0.1": {"10": 80.0}}}}
    generative = results_pages(data, ReportSettings(docs_dir="unused"))["generative-models.md"]
    assert "(chosen: CN 20, AD 10 at s = 0.05)" in generative
    assert "| latent size | CN | AD s=0.05 | AD s=0.1 |" in generative and "| 20 | 95.0 | 98.0 | n/a |" in generative
    audit = pages["audit.md"]
    assert "- `hmc` CN: fails diversity, memorisation." in audit and "- `prior` CN: passes every check." in audit
    assert "1 of 2 sampler-label sets pass every check" in pages["index.md"]
    classifiers = pages["classifiers.md"]
    assert "No augmented training set has a real-only baseline" in classifiers and "| test cohort |" not in classifiers
