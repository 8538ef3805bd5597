"""Can the generator beat its PPCA start at all? Planted cohorts with and without structure a linear model misses.

    python -m benchmarks.studies.generator_planted [--params params.yaml] [--families nonlinear linear]
        [--write benchmarks/results/generator_planted.md]

On the demo cohort the trained networks add nothing to the probabilistic PCA they start from
(``benchmarks/studies/generator_vs_start.py``). That is either the data (nothing beyond a linear
model to learn from 72 volumes) or the method (a trainer, objective or parametrisation that cannot
learn anything beyond its start). This study tells the two apart with two planted cohorts of the
demo's model-ready shape and split sizes (72 training, 18 validation, 20 test volumes per label),
trained by the demo's own ``train_vae`` stage (:func:`medaug.train.stage.run`, every setting from
``--params``, ``auto`` choices included):

* ``nonlinear``: a blurred ellipsoidal "brain" holding a dark "ventricle" ellipsoid and a bright
  Gaussian "lesion". Four factors per volume: the ventricle's size (semi-axes times exp(a), a
  larger on average for AD) and the lesion's position (uniform within ``LESION_REACH_VOXELS`` of the
  centre on each axis). A blob that moves makes the images a curved family that a linear model can
  only approximate with many components (the 2D case of ``tests/train/test_beyond_the_start.py``).
* ``linear``: the same mean volume plus 30 smooth random modes with Gaussian coefficients: a
  probabilistic PCA is the true model, so a network has nothing to add.

Both add white noise of sd ``--noise-std`` (0.04, the demo's chosen decoder sd). For each
cohort and label the table gives the validation bounds of the untrained start, the kept model and
its linear path alone (networks zeroed), the kept epoch, and kept - start on the test volumes,
which neither the training nor the epoch selection saw.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import ndimage

from benchmarks.studies.generator_vs_start import override
from medaug.io import write_tsv
from medaug.models.checkpoint import load_model
from medaug.preprocess.model_ready import write_stack
from medaug.train.ablation import networks_zeroed_elbo
from medaug.train.stage import run as train_label
from medaug.train.trainer import evaluate_elbo
from medaug.volumes import load_label_volumes

SPLIT_SIZES = {"train": 72, "validation": 18, "test": 20}
"""Volumes per label in each split: the demo's (sec. "Studies behind the defaults", docs/studies.md)."""

VENTRICLE_LOG_SCALE = {"CN": (0.0, 0.2), "AD": (0.3, 0.2)}
"""Mean and sd of a, the log of the ventricle's scale, per label."""

LESION_REACH_VOXELS = 8.0
"""The lesion's centre is uniform within this many voxels of the volume's centre on each axis."""

LESION = {"amplitude": 0.3, "sd_voxels": 2.5}
"""The lesion's peak intensity and Gaussian sd."""

LINEAR_MODES = 30
"""Smooth random modes of the linear cohort."""


def _grid(shape: tuple[int, int, int]) -> np.ndarray:
    """(3, D, H, W) voxel coordinates centred on the volume's centre."""
    axes = [np.arange(n, dtype=np.float32) - (n - 1) / 2.0 for n in shape]
    return np.stack(np.meshgrid(*axes, indexing="ij"))


def _ellipsoid(grid: np.ndarray, centre, semi_axes) -> np.ndarray:
    """1 inside the ellipsoid, 0 outside (D, H, W) float32."""
    radius = sum(((grid[i] - centre[i]) / semi_axes[i]) ** 2 for i in range(3))
    return (radius <= 1.0).astype(np.float32)


def head_volume(shape: tuple[int, int, int], log_scale: float, lesion_centre=None) -> np.ndarray:
    """The nonlinear family's noise-free volume (D, H, W): brain 0.7, ventricle 0.1, blurred by 1
    voxel, the ventricle's semi-axes times exp(``log_scale``); plus a Gaussian lesion at
    ``lesion_centre`` (3,) voxels from the centre, if given."""
    grid = _grid(shape)
    brain = _ellipsoid(grid, np.zeros(3), 0.42 * np.array(shape))
    ventricle = _ellipsoid(grid, np.zeros(3), np.exp(log_scale) * np.array([0.06, 0.12, 0.08]) * np.array(shape))
    volume = ndimage.gaussian_filter(0.7 * brain - 0.6 * ventricle, 1.0)
    if lesion_centre is not None:
        distance2 = sum((grid[i] - lesion_centre[i]) ** 2 for i in range(3))
        volume += LESION["amplitude"] * np.exp(-distance2 / (2.0 * LESION["sd_voxels"] ** 2))
    return volume.astype(np.float32)


def planted_volumes(family: str, label: str, n: int, shape: tuple[int, int, int], noise_std: float,
                    rng: np.random.Generator, modes: np.ndarray) -> np.ndarray:
    """``n`` noisy volumes (n, D, H, W) of one label of the ``family`` cohort."""
    if family == "nonlinear":
        mean, sd = VENTRICLE_LOG_SCALE[label]
        clean = np.stack([head_volume(shape, rng.normal(mean, sd), rng.uniform(-LESION_REACH_VOXELS, LESION_REACH_VOXELS, 3))
                          for _ in range(n)])
    elif family == "linear":
        base = head_volume(shape, VENTRICLE_LOG_SCALE[label][0])
        clean = base + np.tensordot(rng.standard_normal((n, len(modes))), modes, axes=1)
    else:
        raise ValueError(f"unknown family {family!r}: nonlinear or linear")
    return (clean + noise_std * rng.standard_normal(clean.shape)).astype(np.float32)


def smooth_modes(shape: tuple[int, int, int], count: int, rng: np.random.Generator) -> np.ndarray:
    """(count, D, H, W) random fields smoothed by 3 voxels, the k-th of sd 0.025 / sqrt(k + 1)."""
    fields = ndimage.gaussian_filter(rng.standard_normal((count, *shape)), (0, 3.0, 3.0, 3.0))
    fields /= fields.std(axis=(1, 2, 3), keepdims=True)
    return (fields * (0.025 / np.sqrt(np.arange(1, count + 1)))[:, None, None, None]).astype(np.float32)


def write_planted_cohort(out: Path, family: str, shape: tuple[int, int, int], noise_std: float, seed: int,
                         train_size: int = SPLIT_SIZES["train"]) -> Path:
    """Write a model-ready stack and its split tables under ``out`` (``train_size`` training volumes
    per label, the other splits of ``SPLIT_SIZES``); return the stack prefix."""
    rng = np.random.default_rng(seed)
    modes = smooth_modes(shape, LINEAR_MODES, rng)
    volumes, rows = [], []
    for label in ("CN", "AD"):
        for split, n in {**SPLIT_SIZES, "train": train_size}.items():
            volumes.append(planted_volumes(family, label, n, shape, noise_std, rng, modes))
            rows += [{"participant_id": f"sub-{label}{split}{i:03d}", "session_id": "ses-M000", "diagnosis": label,
                      "split": split} for i in range(n)]
    table = pd.DataFrame(rows)
    prefix = out / "model_ready"
    write_stack(prefix, list(np.concatenate(volumes)), table[["participant_id", "session_id"]], {"planted": family})
    for split in SPLIT_SIZES:
        write_tsv(table.loc[table["split"] == split, ["participant_id", "session_id", "diagnosis"]], out / f"{split}.tsv")
    return prefix


def study_row(train_params: dict, family: str, label: str, folder: Path) -> dict:
    """Train ``label``'s model on the planted cohort in ``folder``; its bounds (nats per volume)."""
    metrics = train_label(train_params, label)
    bounds = metrics["validation_bounds"]
    model = load_model(folder / "models" / label / "model")
    model.eval()
    test = load_label_volumes(train_params["stack"], folder / "test.tsv", label)[0]
    batch = int(train_params["training"]["eval_batch_size"])
    kept, zeroed = evaluate_elbo(model, test, batch, seed=7), networks_zeroed_elbo(model, test, batch, 7)
    return {"cohort": family, "label": label, "training volumes": metrics["n_train"], "latent size": metrics["latent_size"],
            "validation: start": bounds["start"], "kept - start": round(bounds["kept"] - bounds["start"], 1),
            "kept - networks zeroed": round(bounds["kept"] - bounds["networks_zeroed"], 1),
            "kept epoch": metrics["best_epoch"], "test: kept - start": round(kept - zeroed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--families", nargs="+", default=["nonlinear", "linear"])
    parser.add_argument("--labels", nargs="+", default=["CN", "AD"])
    parser.add_argument("--noise-std", type=float, default=0.04)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-sizes", nargs="+", type=int, default=[SPLIT_SIZES["train"]],
                        help="training volumes per label: one cohort each")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--set", action="append", default=[], help="train_vae key=value (dotted keys)")
    parser.add_argument("--write", default=None, help="also write the table to this markdown file")
    args = parser.parse_args()
    params = yaml.safe_load(Path(args.params).read_text())
    shape = tuple(params["preprocess"]["target_shape"])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for family, train_size in itertools.product(args.families, args.train_sizes):
            folder = Path(tmp) / f"{family}-{train_size}"
            folder.mkdir()
            prefix = write_planted_cohort(folder, family, shape, args.noise_std, args.seed, train_size)
            train_params = copy.deepcopy(params["train_vae"])
            train_params.update(stack=str(prefix), splits_dir=str(folder), out_dir=str(folder / "models"),
                                metrics_dir=str(folder / "metrics"), state_dir=str(folder / "state"))
            for assignment in args.set:
                override(train_params, assignment)
            train_params["training"]["progress"] = False
            train_params["threads"] = args.threads
            for label in args.labels:
                rows.append(study_row(train_params, family, label, folder))
                print(rows[-1], flush=True)
    text = ["# The generator against its start on planted cohorts", "",
            "Command: `python -m benchmarks.studies.generator_planted " + " ".join(sys.argv[1:]) + "`", "",
            "Bounds in nats per volume; validation: the split that picks the kept epoch; test: untouched volumes.", "",
            pd.DataFrame(rows).to_markdown(index=False), ""]
    print("\n".join(text))
    if args.write:
        Path(args.write).write_text("\n".join(text))


if __name__ == "__main__":
    main()
