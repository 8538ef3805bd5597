"""Stages train_classifier (every run of one training set in one process) and evaluate end to end
on a tiny cohort written in tmp_path."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from medaug.checkpoint import CheckpointError
from medaug.classify.data import ClassifierDataError
from medaug.split.leakage import LeakageError
from medaug.classify.sets import load_test_cohorts
from medaug.classify.stage import run as train_trainset
from medaug.classify.stage import worker_layout
from medaug.evaluate.stage import run as evaluate_runs
from pipelines import train_classifier as train_stage
from tests._classify_fixtures import make_classification_cohort

TRAINSETS = ["real", "real-augmented", "synthetic", "real-synthetic"]


def train_run(params: dict, trainset: str, run: int) -> None:
    """Train the one run ``run`` of ``trainset`` (the stage trains every run of classify.runs)."""
    train_trainset({**params, "runs": [run]}, trainset)


@pytest.fixture()
def params(tmp_path: Path) -> dict:
    return make_classification_cohort(tmp_path)


def test_end_to_end_every_training_set(params: dict, tmp_path: Path) -> None:
    params["runs"] = [0, 1]
    for trainset in TRAINSETS:
        summaries = train_trainset(params, trainset)
        assert [s["run"] for s in summaries] == [0, 1]
    out = Path(params["out_dir"])
    assert sorted(p.name for p in out.iterdir()) == sorted(TRAINSETS)   # no temporary folder left
    for trainset in TRAINSETS:
        for run in (0, 1):
            folder = out / trainset / f"run-{run}"
            assert sorted(p.name for p in folder.iterdir()) == [
                "history.tsv", "model.json", "model.safetensors", "summary.json", "training_set.tsv"]
    composition = {t: pd.read_csv(out / t / "run-0" / "training_set.tsv", sep="\t")["source"].value_counts().to_dict()
                   for t in TRAINSETS}
    assert composition == {"real": {"real": 24}, "real-augmented": {"real": 12}, "synthetic": {"synthetic": 12},
                           "real-synthetic": {"real": 24, "synthetic": 12}}
    assert json.loads((out / "real" / "run-1" / "summary.json").read_text())["seed"] == params["seed"] + 1

    metrics = evaluate_runs(params)
    assert metrics == json.loads(Path(params["evaluate"]["metrics"]).read_text())
    assert sorted(metrics) == sorted(TRAINSETS)
    for trainset in TRAINSETS:
        assert sorted(metrics[trainset]) == ["convergence", "ext", "tiny"]
        convergence = metrics[trainset]["convergence"]
        kept = [json.loads((out / trainset / f"run-{k}" / "summary.json").read_text())["kept_step"] for k in (0, 1)]
        assert convergence["n_runs"] == 2 and convergence["selection"] == "validation_loss"
        assert convergence["kept_step"] == {"min": min(kept), "median": statistics.median(kept), "max": max(kept)}
        assert convergence["kept_in_last_fifth"] == sum(5 * k > 4 * convergence["step_cap"]["max"] for k in kept)
        summaries = [json.loads((out / trainset / f"run-{k}" / "summary.json").read_text()) for k in (0, 1)]
        stuck = [k for k, s in zip((0, 1), summaries) if s["validation_balanced_accuracy"] <= 0.55]
        assert convergence["at_chance"] == len(stuck) and convergence["runs_at_chance"] == stuck
        entry = metrics[trainset]["ext"]
        assert entry["n_runs"] == 2
        assert set(entry) == {"n_runs", "balanced_accuracy", "sensitivity", "specificity", "roc_auc"}
        assert 0.0 <= entry["balanced_accuracy"]["mean"] <= 1.0
    results = Path(params["evaluate"]["results_dir"])
    predictions = pd.read_csv(results / "predictions.tsv", sep="\t")
    assert len(predictions) == len(TRAINSETS) * 2 * (8 + 8)  # runs x (tiny test + ext test)
    assert set(predictions["predicted"]) <= {"CN", "AD"}
    runs = pd.read_csv(results / "runs.tsv", sep="\t")
    assert len(runs) == len(TRAINSETS) * 2 * 2
    mean_ba = runs[(runs.trainset == "real") & (runs.cohort == "ext")]["balanced_accuracy"].mean()
    assert metrics["real"]["ext"]["balanced_accuracy"]["mean"] == pytest.approx(mean_ba)


def test_same_run_twice_gives_the_same_bytes(params: dict) -> None:
    out = Path(params["out_dir"]) / "real-synthetic" / "run-1"
    train_run(params, "real-synthetic", 1)
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    train_run(params, "real-synthetic", 1)
    assert first == {p.name: p.read_bytes() for p in out.iterdir()}


def test_leakage_guard_stops_the_stage_before_any_output(params: dict) -> None:
    splits = Path(params["splits_dir"]) / "tiny"
    test = pd.read_csv(splits / "test.tsv", sep="\t")
    train = pd.read_csv(splits / "train.tsv", sep="\t")
    pd.concat([train, test.iloc[:1]]).to_csv(splits / "train.tsv", sep="\t", index=False)
    with pytest.raises(LeakageError, match=f"in both 'test' and 'train': {test['participant_id'].iloc[0]}"):
        train_run(params, "real", 0)
    assert not Path(params["out_dir"]).exists()


def test_external_participant_in_training_is_refused(params: dict) -> None:
    splits = Path(params["splits_dir"])
    ext = pd.read_csv(splits / "ext" / "test.tsv", sep="\t")
    validation = pd.read_csv(splits / "tiny" / "validation.tsv", sep="\t")
    ext.iloc[:1].assign(participant_id=validation["participant_id"].iloc[0]).pipe(
        lambda row: pd.concat([ext, row])).to_csv(splits / "ext" / "test.tsv", sep="\t", index=False)
    with pytest.raises(LeakageError, match="external test set 'ext'"):
        load_test_cohorts(params)


def test_empty_synthetic_set_and_bad_trainsets_are_refused(params: dict) -> None:
    params["synthetic_trainsets"]["synthetic"] = {"synthetic": 0}
    with pytest.raises(ClassifierDataError, match="synthetic_trainsets.synthetic: empty synthetic set"):
        train_run(params, "synthetic", 0)
    params["real_trainsets"]["sneaky"] = {"real": "train", "synthetic": 2}
    with pytest.raises(ValueError, match="belong in synthetic_trainsets"):
        train_run(params, "sneaky", 0)
    params["real_trainsets"]["nothing"] = {"synthetic": 0}
    with pytest.raises(ClassifierDataError, match="neither real images nor synthetic images"):
        train_run(params, "nothing", 0)
    with pytest.raises(KeyError, match="'missing'"):
        train_run(params, "missing", 0)
    params["synthetic_trainsets"]["synthetic"] = {"synthetic": 99}
    with pytest.raises(ClassifierDataError, match=r"10 synthetic CN sample\(s\), 99 requested"):
        train_run(params, "synthetic", 0)
    assert not Path(params["out_dir"]).exists()


def test_synthetic_id_equal_to_a_real_participant_is_refused(params: dict) -> None:
    table_path = Path(params["synthetic_dir"]) / "CN" / "samples.tsv"
    samples = pd.read_csv(table_path, sep="\t")
    samples.loc[0, "participant_id"] = "sub-T000"  # a real training participant
    samples.to_csv(table_path, sep="\t", index=False)
    with pytest.raises(LeakageError, match="sub-T000"):
        train_run(params, "synthetic", 0)


def test_command_line_reads_a_params_file(params: dict, tmp_path: Path) -> None:
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump({"classify": params}))
    train_stage.main(["--trainset", "real", "--params", str(params_file)])
    for run in params["runs"]:
        assert (Path(params["out_dir"]) / "real" / f"run-{run}" / "model.safetensors").is_file()


def test_step_budget_gives_every_training_set_the_same_steps(params: dict) -> None:
    """Sets of 12, 24 and 36 images: the same Adam steps and images seen, recorded in summary.json;
    validation every eval_every steps and after the last one (history.tsv), carried into runs.tsv."""
    params["training"]["budget"] = {"unit": "steps", "steps": 14, "eval_every": 5, "epochs": None}
    params["runs"] = [0]
    sizes = {"real-augmented": 12, "real": 24, "real-synthetic": 36}
    out = Path(params["out_dir"])
    for trainset in sizes:
        train_run(params, trainset, 0)
    for trainset, n in sizes.items():
        summary = json.loads((out / trainset / "run-0" / "summary.json").read_text())
        assert summary["budget"] == {"unit": "steps", "steps": 14, "eval_every": 5}, trainset
        assert summary["optimisation_steps"] == 14 and summary["images_seen"] == 14 * 4, trainset
        assert summary["step_cap"] == summary["stopped_step"] == 14 and summary["stop_reason"] == "cap"
        assert summary["kept_in_last_fifth"] == (summary["kept_step"] > 0.8 * 14)
        assert summary["epochs_completed"] == pytest.approx(14 * 4 / n), trainset
        assert sum(summary["n_train"].values()) == n and summary["n_validations"] == 3
        history = pd.read_csv(out / trainset / "run-0" / "history.tsv", sep="\t")
        assert history["step"].tolist() == [5, 10, 14] and history["images_seen"].tolist() == [20, 40, 56]
        assert history.loc[history["kept"], "step"].tolist() == [summary["kept_step"]]

    params["real_trainsets"] = {name: params["real_trainsets"][name] for name in ("real", "real-augmented")}
    params["synthetic_trainsets"] = {"real-synthetic": params["synthetic_trainsets"]["real-synthetic"]}
    evaluate_runs(params)
    runs = pd.read_csv(Path(params["evaluate"]["results_dir"]) / "runs.tsv", sep="\t")
    assert set(runs["optimisation_steps"]) == {14} and set(runs["images_seen"]) == {56}
    assert set(runs["step_cap"]) == {14} and set(runs["stopped_step"]) == {14}
    assert set(runs["kept_step"]) <= {5, 10, 14} and set(runs["selection"]) == {"validation_loss"}


def test_epoch_budget_takes_more_steps_on_larger_sets(params: dict) -> None:
    params["runs"] = [0]
    for trainset in ("real", "real-synthetic"):
        train_run(params, trainset, 0)
    steps = {t: json.loads((Path(params["out_dir"]) / t / "run-0" / "summary.json").read_text())["optimisation_steps"]
             for t in ("real", "real-synthetic")}
    assert steps == {"real": 3 * 6, "real-synthetic": 3 * 9}   # 3 epochs of 24 and 36 images, batches of 4


# --- one stage per training set: every run in one process -----------------------------------------

def _folder_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_one_stage_trains_every_run_and_rewrites_the_same_bytes(params: dict) -> None:
    params["runs"] = [0, 2]
    out = Path(params["out_dir"])
    summaries = train_trainset(params, "real")
    assert [(s["run"], s["seed"]) for s in summaries] == [(0, params["seed"]), (2, params["seed"] + 2)]
    assert sorted(p.name for p in (out / "real").iterdir()) == ["run-0", "run-2"]
    first = _folder_bytes(out / "real")
    # each run is the run a single-run stage would have trained
    assert train_trainset({**params, "runs": [2]}, "real")[0] == summaries[1]
    assert _folder_bytes(out / "real") == {k: v for k, v in first.items() if k.startswith("run-2/")}  # run-0 gone
    train_trainset(params, "real")
    assert _folder_bytes(out / "real") == first


def test_runs_in_worker_processes_write_the_bytes_of_sequential_runs(params: dict) -> None:
    """Two workers of one thread each train the runs that one process of one thread trains."""
    params["runs"] = [0, 1, 2]
    out = Path(params["out_dir"])
    sequential = train_trainset({**params, "threads": 1, "workers": 1}, "real-augmented")
    first = _folder_bytes(out / "real-augmented")
    parallel = train_trainset({**params, "threads": 2, "workers": 2}, "real-augmented")
    assert parallel == sequential
    assert _folder_bytes(out / "real-augmented") == first
    assert sorted(p.name for p in out.iterdir()) == ["real-augmented"]


def test_worker_layout_shares_the_threads_and_never_exceeds_the_runs() -> None:
    assert worker_layout({"threads": 2, "workers": 2}, 4) == (2, 1)
    assert worker_layout({"threads": 2}, 4) == (1, 2)
    assert worker_layout({"threads": 4, "workers": 8}, 3) == (3, 1)
    assert worker_layout({"threads": 1, "workers": 2}, 4) == (2, 1)
    with pytest.raises(ValueError, match="classify.workers"):
        worker_layout({"threads": 2, "workers": 0}, 4)


def test_a_run_that_fails_in_a_worker_fails_the_stage_and_leaves_nothing(params: dict) -> None:
    params["runs"] = [0, 1]
    Path(params["model_ready"].format(cohort=params["training_cohort"]) + ".npy").write_bytes(b"not an array")
    with pytest.raises(Exception, match="model_ready|pickle|array|npy"):
        train_trainset({**params, "threads": 2, "workers": 2}, "real")
    assert not Path(params["out_dir"]).exists() or not any(Path(params["out_dir"]).iterdir())


def test_a_failed_stage_keeps_the_previous_folder_and_leaves_nothing(params: dict, monkeypatch) -> None:
    params["runs"] = [0, 1]
    out = Path(params["out_dir"])
    train_trainset(params, "real")
    before = _folder_bytes(out / "real")
    import medaug.classify.stage as run_module
    real_train_run = run_module.train_run

    def fail_on_run_1(params, data, run_index, directory):
        if run_index == 1:
            raise RuntimeError("killed")
        return real_train_run(params, data, run_index, directory)

    monkeypatch.setattr(run_module, "train_run", fail_on_run_1)
    with pytest.raises(RuntimeError, match="killed"):
        train_trainset({**params, "seed": params["seed"] + 10}, "real")
    assert _folder_bytes(out / "real") == before
    assert sorted(p.name for p in out.iterdir()) == ["real"]


def test_leftovers_of_a_killed_stage_are_removed_but_not_another_sets(params: dict) -> None:
    out = Path(params["out_dir"])
    mine = [out / ".tmp-real-ab12cd_3", out / ".tmp-real-old"]
    other = [out / ".tmp-real-augmented-ab12cd34", out / ".tmp-real-synthetic-old"]
    for folder in mine + other:
        (folder / "run-0").mkdir(parents=True)
    train_trainset({**params, "runs": [0]}, "real")
    assert not any(folder.exists() for folder in mine)
    assert all(folder.exists() for folder in other)


def test_runs_must_be_distinct_indices(params: dict) -> None:
    for runs in ([], [0, 0], [-1], None):
        with pytest.raises(ValueError, match="classify.runs"):
            train_trainset({**params, "runs": runs}, "real")
    assert not Path(params["out_dir"]).exists()


# --- real + classic augmentation + synthetic ------------------------------------------------------

def test_real_augmented_synthetic_set_augments_the_real_images_only(params: dict, monkeypatch) -> None:
    from medaug.classify.augment import ClassicAugmentation
    from medaug.classify.sets import training_data

    params["synthetic_trainsets"]["real-augmented-synthetic"] = {"real": "train", "synthetic": 6,
                                                                  "augmentation": {"affine_prob": 1.0}}
    params["runs"] = [0]
    data = training_data(params, "real-augmented-synthetic")
    real = {data.train.images[i].numpy().tobytes() for i in range(len(data.train))
            if data.train.table["source"].iloc[i] == "real"}
    assert len(real) == 24 and int(data.augmented.sum()) == 24 and len(data.train) == 36

    calls = []
    batch = ClassicAugmentation.batch

    def spy(self, images, mask=None):
        out = batch(self, images, mask)
        calls.append((images.clone(), None if mask is None else mask.clone(), out))
        return out

    monkeypatch.setattr(ClassicAugmentation, "batch", spy)
    summary = train_trainset(params, "real-augmented-synthetic")[0]
    assert summary["n_augmented"] == 24 and summary["n_train_by_source"] == {"real": 24, "synthetic": 12}
    flags = []
    for images, mask, out in calls:
        assert mask is not None
        for image, flag, result in zip(images, mask, out):
            assert bool(flag) == (image.numpy().tobytes() in real)   # the mask marks the real images
            if not flag:
                assert torch.equal(result, image)                        # synthetic images pass unchanged
            flags.append(bool(flag))
    assert any(flags) and not all(flags)
    composition = pd.read_csv(Path(params["out_dir"]) / "real-augmented-synthetic" / "run-0" / "training_set.tsv",
                              sep="\t")["source"].value_counts().to_dict()
    assert composition == {"real": 24, "synthetic": 12}


def test_augmentation_without_real_images_is_refused(params: dict) -> None:
    params["synthetic_trainsets"]["synthetic-augmented"] = {"synthetic": 6, "augmentation": True}
    with pytest.raises(ValueError, match="augmentation applies to real images only"):
        train_trainset(params, "synthetic-augmented")


# --- a cohort labelled HC / PD (classify.labels {negative: HC, positive: PD}) ---

@pytest.fixture()
def hc_pd(tmp_path: Path) -> dict:
    params = make_classification_cohort(tmp_path, labels=("HC", "PD"))
    params["runs"] = [0]
    return params


def test_hc_pd_train_and_evaluate_name_their_outputs_after_the_labels(hc_pd: dict) -> None:
    for trainset in ("real", "real-synthetic"):
        train_trainset(hc_pd, trainset)
    hc_pd["synthetic_trainsets"] = {"real-synthetic": hc_pd["synthetic_trainsets"]["real-synthetic"]}
    hc_pd["real_trainsets"] = {"real": hc_pd["real_trainsets"]["real"]}
    out = Path(hc_pd["out_dir"])
    assert json.loads((out / "real" / "run-0" / "model.json").read_text())["labels"] == ["HC", "PD"]
    summary = json.loads((out / "real-synthetic" / "run-0" / "summary.json").read_text())
    assert summary["n_train"] == {"HC": 18, "PD": 18} and summary["n_validation"] == {"HC": 4, "PD": 4}
    evaluate_runs(hc_pd)
    results = Path(hc_pd["evaluate"]["results_dir"])
    predictions = pd.read_csv(results / "predictions.tsv", sep="\t")
    assert list(predictions.columns) == ["trainset", "run", "cohort", "participant_id", "session_id", "diagnosis",
                                         "probability_PD", "predicted"]
    assert set(predictions["predicted"]) <= {"HC", "PD"}
    runs = pd.read_csv(results / "runs.tsv", sep="\t")
    assert list(runs.columns[3:9]) == ["balanced_accuracy", "sensitivity", "specificity", "roc_auc", "n_PD", "n_HC"]
    assert set(runs["n_PD"]) == {4} and set(runs["n_HC"]) == {4}


def test_demo_labels_keep_the_demo_column_names(params: dict) -> None:
    train_run(params, "real", 0)
    params["runs"], params["synthetic_trainsets"] = [0], {}
    params["real_trainsets"] = {"real": params["real_trainsets"]["real"]}
    evaluate_runs(params)
    results = Path(params["evaluate"]["results_dir"])
    assert "probability_AD" in pd.read_csv(results / "predictions.tsv", sep="\t").columns
    assert list(pd.read_csv(results / "runs.tsv", sep="\t").columns[7:9]) == ["n_AD", "n_CN"]


def test_a_classifier_of_other_labels_is_not_evaluated(hc_pd: dict) -> None:
    train_trainset(hc_pd, "real")
    hc_pd["real_trainsets"], hc_pd["synthetic_trainsets"] = {"real": hc_pd["real_trainsets"]["real"]}, {}
    hc_pd["labels"] = {"negative": "PD", "positive": "HC"}
    with pytest.raises(CheckpointError, match=r"labels \['HC', 'PD'\] \(negative, positive\) differ from "
                                              r"classify.labels \{'negative': 'PD', 'positive': 'HC'\}"):
        evaluate_runs(hc_pd)


def test_a_label_outside_the_two_stops_training_naming_the_file(hc_pd: dict) -> None:
    path = Path(hc_pd["splits_dir"]) / "tiny" / "train.tsv"
    train = pd.read_csv(path, sep="\t")
    train.loc[3, "diagnosis"] = "ET"
    train.to_csv(path, sep="\t", index=False)
    with pytest.raises(ClassifierDataError, match=r"tiny/train.tsv: row 4 \(sub-T003\) has diagnosis 'ET', "
                                                  r"expected one of \['HC', 'PD'\]"):
        train_trainset(hc_pd, "real")
    assert not Path(hc_pd["out_dir"]).exists()


def test_a_configured_label_without_images_stops_training_naming_the_file(hc_pd: dict) -> None:
    path = Path(hc_pd["splits_dir"]) / "tiny" / "validation.tsv"
    validation = pd.read_csv(path, sep="\t")
    validation[validation["diagnosis"] == "HC"].to_csv(path, sep="\t", index=False)
    with pytest.raises(ClassifierDataError, match=r"tiny/validation.tsv: no image of 'PD' \(\{'HC': 4, 'PD': 0\}\)"):
        train_trainset(hc_pd, "real")
    hc_pd["labels"] = {"negative": "HC", "positive": "AD"}   # a typo'd label: its class is empty
    with pytest.raises(ClassifierDataError, match="has diagnosis 'PD', expected one of \\['HC', 'AD'\\]"):
        train_trainset(hc_pd, "real")
    assert not Path(hc_pd["out_dir"]).exists()
