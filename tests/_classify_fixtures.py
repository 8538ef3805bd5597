"""A tiny classification cohort on disk (splits, model-ready stacks, synthetic samples) for the classify tests.

Images are 16x20x16 smooth noise; images of the positive label (AD by default) have a dark block
(the "atrophy") so a few epochs of the small network separate the labels. ``labels`` names the
(negative, positive) classes, e.g. ("HC", "PD") for a cohort that is not CN / AD.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from medaug.preprocess import model_ready

SHAPE = (16, 20, 16)
SPLIT_SIZES = {"train": 12, "validation": 4, "test": 4}   # per label
EXTERNAL_PER_LABEL = 4
SYNTHETIC_PER_LABEL = 10


DEMO_LABELS = ("CN", "AD")


def volume(label: str, rng: np.random.Generator, positive: str = "AD") -> np.ndarray:
    image = 0.5 + 0.05 * rng.standard_normal(SHAPE)
    if label == positive:
        image[4:12, 5:15, 4:12] -= 0.3
    return np.clip(image, 0, 1).astype(np.float32)


def _rows(prefix: str, label: str, n: int, start: int) -> list[dict]:
    return [{"participant_id": f"sub-{prefix}{start + i:03d}", "session_id": "ses-M000", "diagnosis": label,
             "age": 70.0, "sex": "F", "site": "S"} for i in range(n)]


def write_stack(prefix: Path, table: pd.DataFrame, rng: np.random.Generator, positive: str = "AD") -> None:
    prefix.parent.mkdir(parents=True, exist_ok=True)
    volumes = [volume(d, rng, positive) for d in table["diagnosis"]]
    model_ready.write_stack(prefix, volumes, table[["participant_id", "session_id"]], {})


def make_classification_cohort(root: Path, seed: int = 0, labels: tuple[str, str] = DEMO_LABELS) -> dict:
    """Write splits, stacks and synthetic samples under ``root``; return the ``classify`` params.
    ``labels``: (negative, positive)."""
    rng = np.random.default_rng(seed)
    negative, positive = labels
    splits_dir, ready, synthetic_dir = root / "splits", root / "preprocessed", root / "synthetic"
    tables, start = {}, 0
    for split, n in SPLIT_SIZES.items():
        tables[split] = pd.DataFrame(_rows("T", negative, n, start) + _rows("T", positive, n, start + n))
        start += 2 * n
    tables["train-50"] = tables["train"].iloc[::2].reset_index(drop=True)
    (splits_dir / "tiny").mkdir(parents=True)
    for split, table in tables.items():
        table.to_csv(splits_dir / "tiny" / f"{split}.tsv", sep="\t", index=False)
    external = pd.DataFrame(_rows("E", negative, EXTERNAL_PER_LABEL, 0) + _rows("E", positive, EXTERNAL_PER_LABEL, 100))
    (splits_dir / "ext").mkdir(parents=True)
    external.to_csv(splits_dir / "ext" / "test.tsv", sep="\t", index=False)

    # the stack holds the cohort in another order than the splits, as a real stack would
    everyone = pd.concat([tables[s] for s in SPLIT_SIZES]).sample(frac=1.0, random_state=seed)
    write_stack(ready / "tiny" / "model_ready", everyone, rng, positive)
    write_stack(ready / "ext" / "model_ready", external, rng, positive)

    for label in labels:
        directory = synthetic_dir / label
        directory.mkdir(parents=True)
        samples = pd.DataFrame({"participant_id": [f"syn-{label}-{i:06d}" for i in range(SYNTHETIC_PER_LABEL)],
                                "diagnosis": label, "sampler": "hmc", "seed": 1})
        samples.to_csv(directory / "samples.tsv", sep="\t", index=False)
        np.save(directory / "samples.npy", np.stack([volume(label, rng, positive) for _ in range(SYNTHETIC_PER_LABEL)]))

    return {
        "splits_dir": str(splits_dir),
        "training_cohort": "tiny",
        "labels": {"negative": negative, "positive": positive},
        "external_cohorts": ["ext"],
        "model_ready": str(ready / "{cohort}" / "model_ready"),
        "synthetic_dir": str(synthetic_dir),
        "validation_split": "validation",
        "out_dir": str(root / "classify"),
        "seed": 7,
        "runs": [0, 1],
        "threads": 1,
        "network": {"name": "small", "dropout": 0.5},
        "training": {"budget": {"unit": "epochs", "epochs": 3, "steps": None, "eval_every": None}, "batch_size": 4, "learning_rate": 1.0e-3, "weight_decay": 0.0,
                     "device": "cpu", "progress": False},
        "real_trainsets": {
            "real": {"real": "train"},
            "real-augmented": {"real": "train-50", "augmentation": {"elastic_prob": 0.5}},
        },
        "synthetic_trainsets": {
            "synthetic": {"synthetic": 6},
            "real-synthetic": {"real": "train", "synthetic": 6},
        },
        "evaluate": {"results_dir": str(root / "results"), "metrics": str(root / "metrics" / "classify.json"),
                     "chance_balanced_accuracy": 0.55,
                     "batch_size": 8},
    }
