"""Can the generator beat the best linear model at all? Planted cohorts with and without structure a linear model misses.

    python -m benchmarks.studies.generator_planted [--params params.yaml] [--families track linear]
        [--latent-sizes 2 auto] [--labels CN AD] [--write benchmarks/results/generator_planted.md]

On the demo cohort the trained networks add nothing to the probabilistic PCA they start from
(``benchmarks/studies/generator_vs_start.py``). That is either the data (nothing beyond a linear
model that 72 volumes can teach) or the method (a trainer, objective or parametrisation that cannot
learn beyond its start). This study tells the two apart on planted cohorts of the demo's
model-ready shape and split sizes (72 training, 18 validation, 20 test volumes per label), each
model trained by the demo's own ``train_vae`` stage (:func:`medaug.train.stage.run`, every setting
from ``--params`` except the latent size, which ``--latent-sizes`` sets; ``auto`` is the demo's
choice by held-out PPCA likelihood):

* ``track``: a blurred ellipsoidal "brain" holding a dark "ventricle" ellipsoid (larger for AD) and
  a bright Gaussian "lesion" whose position along the anterior-posterior axis is uniform over
  ``2 x TRACK_REACH_VOXELS``: one factor, but a moving blob, which a linear model can only follow
  with many components.
* ``linear``: the same mean volume plus ``LINEAR_MODES`` smooth random modes with Gaussian
  coefficients: a probabilistic PCA is the true model, so a network has nothing to add.

Both add white noise of sd ``--noise-std`` (0.04, the demo's chosen decoder sd). Per cohort,
latent size and label the table gives the validation bounds (kept - start, kept - networks zeroed,
the kept epoch) and, on the test volumes that neither training nor selection saw, kept - start and
kept - the best linear model: the shared-components PPCA of the same training volumes at the
model's noise sd and the best latent size of ``train_vae.latent_size_selection.candidates`` on
these very test volumes (an optimistic baseline). A positive last column is a generator that
learned what no linear model of these volumes holds.
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
from medaug.models.ppca import fit_shared_ppca, ppca_log_likelihood, truncated
from medaug.preprocess.model_ready import write_stack
from medaug.train.ablation import networks_zeroed_elbo
from medaug.train.stage import run as train_label
from medaug.train.trainer import evaluate_elbo
from medaug.volumes import load_label_volumes

SPLIT_SIZES = {"train": 72, "validation": 18, "test": 20}
"""Volumes per label in each split: the demo's."""

VENTRICLE_LOG_SCALE = {"CN": 0.0, "AD": 0.3}
"""Log of the ventricle's scale per label."""

TRACK_REACH_VOXELS = 12.0
"""The lesion's centre is uniform within this many voxels of the volume's centre, along the second axis."""

LESION = {"amplitude": 1.0, "sd_voxels": 2.5}
"""The lesion's peak intensity and Gaussian sd (voxels)."""

LINEAR_MODES = 30
"""Smooth random modes of the linear cohort."""

EVAL_SEED = 7
"""Seed of the posterior draws of the test-split bounds."""


def _grid(shape: tuple[int, int, int]) -> np.ndarray:
    """(3, D, H, W) voxel coordinates centred on the volume's centre."""
    axes = [np.arange(n, dtype=np.float32) - (n - 1) / 2.0 for n in shape]
    return np.stack(np.meshgrid(*axes, indexing="ij"))


def _ellipsoid(grid: np.ndarray, semi_axes) -> np.ndarray:
    """1 inside the centred ellipsoid of ``semi_axes`` (3,) voxels, 0 outside: (D, H, W) float32."""
    radius = sum((grid[i] / semi_axes[i]) ** 2 for i in range(3))
    return (radius <= 1.0).astype(np.float32)


def head_volume(shape: tuple[int, int, int], label: str, lesion_offset: float | None = None) -> np.ndarray:
    """A noise-free planted volume (D, H, W): brain 0.7, ventricle 0.1 (semi-axes times
    exp(``VENTRICLE_LOG_SCALE[label]``)), blurred by 1 voxel; plus the lesion ``lesion_offset``
    voxels from the centre along the second axis, if given."""
    grid = _grid(shape)
    size = np.array(shape, dtype=np.float64)
    ventricle = _ellipsoid(grid, np.exp(VENTRICLE_LOG_SCALE[label]) * np.array([0.06, 0.12, 0.08]) * size)
    volume = ndimage.gaussian_filter(0.7 * _ellipsoid(grid, 0.42 * size) - 0.6 * ventricle, 1.0)
    if lesion_offset is not None:
        distance2 = grid[0] ** 2 + (grid[1] - lesion_offset) ** 2 + grid[2] ** 2
        volume += LESION["amplitude"] * np.exp(-distance2 / (2.0 * LESION["sd_voxels"] ** 2))
    return volume.astype(np.float32)


def smooth_modes(shape: tuple[int, int, int], count: int, rng: np.random.Generator) -> np.ndarray:
    """(count, D, H, W) random fields smoothed by 3 voxels, the k-th (from 1) of sd 0.025 / sqrt(k)."""
    fields = ndimage.gaussian_filter(rng.standard_normal((count, *shape)), (0, 3.0, 3.0, 3.0))
    fields /= fields.std(axis=(1, 2, 3), keepdims=True)
    return (fields * (0.025 / np.sqrt(np.arange(1, count + 1)))[:, None, None, None]).astype(np.float32)


def planted_volumes(family: str, label: str, n: int, shape: tuple[int, int, int], noise_std: float,
                    rng: np.random.Generator, modes: np.ndarray) -> np.ndarray:
    """``n`` noisy volumes (n, D, H, W) of one label of the ``family`` cohort."""
    if family == "track":
        offsets = rng.uniform(-TRACK_REACH_VOXELS, TRACK_REACH_VOXELS, n)
        clean = np.stack([head_volume(shape, label, offset) for offset in offsets])
    elif family == "linear":
        clean = head_volume(shape, label) + np.tensordot(rng.standard_normal((n, len(modes))), modes, axes=1)
    else:
        raise ValueError(f"unknown family {family!r}: track or linear")
    return (clean + noise_std * rng.standard_normal(clean.shape)).astype(np.float32)


def write_planted_cohort(out: Path, family: str, shape: tuple[int, int, int], noise_std: float, seed: int) -> Path:
    """Write a model-ready stack and its split tables under ``out``; return the stack prefix."""
    rng = np.random.default_rng(seed)
    modes = smooth_modes(shape, LINEAR_MODES, rng)
    volumes, rows = [], []
    for label in ("CN", "AD"):
        for split, n in SPLIT_SIZES.items():
            volumes.append(planted_volumes(family, label, n, shape, noise_std, rng, modes))
            rows += [{"participant_id": f"sub-{label}{split}{i:03d}", "session_id": "ses-M000", "diagnosis": label,
                      "split": split} for i in range(n)]
    table = pd.DataFrame(rows)
    prefix = out / "model_ready"
    write_stack(prefix, list(np.concatenate(volumes)), table[["participant_id", "session_id"]], {"planted": family})
    for split in SPLIT_SIZES:
        write_tsv(table.loc[table["split"] == split, ["participant_id", "session_id", "diagnosis"]], out / f"{split}.tsv")
    return prefix


def best_linear_bound(train_params: dict, folder: Path, label: str, noise_std: float) -> tuple[float, int]:
    """(mean test log-likelihood, its latent size) of the best shared-components PPCA over the
    latent size candidates, at noise sd ``noise_std``: the best any linear model of these training
    volumes does on the test volumes."""
    def volumes(split: str, of: str):
        return load_label_volumes(train_params["stack"], folder / f"{split}.tsv", of)[0]

    others = [volumes("train", other) for other in ("CN", "AD") if other != label]
    sizes = sorted(int(d) for d in train_params["latent_size_selection"]["candidates"])
    fit = fit_shared_ppca(volumes("train", label), others, sizes[-1], noise_std)
    test = volumes("test", label)
    scores = {d: float(ppca_log_likelihood(truncated(fit, d), test).mean()) for d in sizes}
    best = max(scores, key=scores.get)
    return scores[best], best


def study_row(train_params: dict, family: str, label: str, folder: Path) -> dict:
    """Train ``label``'s model on the planted cohort in ``folder``; its bounds (nats per volume)."""
    metrics = train_label(train_params, label)
    bounds = metrics["validation_bounds"]
    model = load_model(folder / "models" / label / "model")
    model.eval()
    test = load_label_volumes(train_params["stack"], folder / "test.tsv", label)[0]
    batch = int(train_params["training"]["eval_batch_size"])
    kept, zeroed = evaluate_elbo(model, test, batch, seed=EVAL_SEED), networks_zeroed_elbo(model, test, batch, EVAL_SEED)
    linear, linear_size = best_linear_bound(train_params, folder, label, float(model.config.observation_std))
    return {"cohort": family, "label": label, "latent size": metrics["latent_size"],
            "validation: kept - start": round(bounds["kept"] - bounds["start"], 1),
            "kept - networks zeroed": round(bounds["kept"] - bounds["networks_zeroed"], 1),
            "kept epoch": metrics["best_epoch"], "test: kept - start": round(kept - zeroed, 1),
            "test: kept - best linear (its d)": f"{kept - linear:+.1f} ({linear_size})"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--families", nargs="+", default=["track", "linear"])
    parser.add_argument("--latent-sizes", nargs="+", default=["2", "auto"], help="network.latent_size values")
    parser.add_argument("--labels", nargs="+", default=["CN", "AD"])
    parser.add_argument("--noise-std", type=float, default=0.04)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--set", action="append", default=[], help="train_vae key=value (dotted keys)")
    parser.add_argument("--write", default=None, help="also write the table to this markdown file")
    args = parser.parse_args()
    params = yaml.safe_load(Path(args.params).read_text())
    shape = tuple(params["preprocess"]["target_shape"])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families:
            folder = Path(tmp) / family
            folder.mkdir()
            prefix = write_planted_cohort(folder, family, shape, args.noise_std, args.seed)
            for latent_size, label in itertools.product(args.latent_sizes, args.labels):
                train_params = copy.deepcopy(params["train_vae"])
                for assignment in [*args.set, f"network.latent_size={latent_size}"]:
                    override(train_params, assignment)
                train_params.update(stack=str(prefix), splits_dir=str(folder), out_dir=str(folder / "models"),
                                    metrics_dir=str(folder / "metrics"), state_dir=str(folder / "state"),
                                    threads=args.threads)
                train_params["training"]["progress"] = False
                rows.append(study_row(train_params, family, label, folder))
                print(rows[-1], flush=True)
    text = ["# The generator against its start and the best linear model, on planted cohorts", "",
            "Command: `python -m benchmarks.studies.generator_planted " + " ".join(sys.argv[1:]) + "`", "",
            "Bounds in nats per volume; validation: the split that picks the kept epoch; test: untouched volumes; "
            "best linear: the shared-components PPCA at the best latent size on the test volumes.", "",
            pd.DataFrame(rows).to_markdown(index=False), ""]
    print("\n".join(text))
    if args.write:
        Path(args.write).write_text("\n".join(text))


if __name__ == "__main__":
    main()
