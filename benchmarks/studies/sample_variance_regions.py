"""Where the synthetic volumes vary: voxelwise variance inside the brain, at its edge and outside it.

    python -m benchmarks.studies.sample_variance_regions [--params params.yaml]

For each label, the voxelwise variance over the real training volumes and over each sampler's
synthetic volumes, averaged over three regions of the model-ready grid: the brain interior (the
template brain mask, down-sampled, eroded by 2 voxels), the brain edge (the mask less its
interior) and everything outside the mask (skull, scalp, neck). Prints each sampler's share of the
real variance per region. A sampler whose share is much higher outside the brain than inside it
varies the head and the neck more than the anatomy a classifier uses. Not a test: it reads the
finished ``preprocess``, ``sample`` and ``sample_compare`` outputs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml
from scipy import ndimage


from medaug.preprocess.model_ready import downsample  # noqa: E402
from medaug.preprocess.pool import PreprocessSettings  # noqa: E402
from medaug.preprocess.t1_linear import cropped_template  # noqa: E402
from medaug.synthetic import read_synthetic  # noqa: E402
from medaug.volumes import load_label_volumes  # noqa: E402


def brain_regions(preprocess: dict) -> dict[str, np.ndarray]:
    """Boolean masks on the model-ready grid: ``interior``, ``edge`` and ``outside`` the brain."""
    settings = PreprocessSettings.from_params(preprocess, Path(preprocess["caps_dir"]))
    mask = np.asarray(cropped_template(settings.t1_linear).brain_mask.dataobj, dtype=np.float32)
    if settings.target_shape is not None:
        mask = downsample(mask, settings.target_shape, settings.antialias) >= 0.5
    mask = mask.astype(bool)
    interior = ndimage.binary_erosion(mask, iterations=2)
    return {"interior": interior, "edge": mask & ~interior, "outside": ~mask}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    params = yaml.safe_load(Path(args.params).read_text())
    regions = brain_regions(params["preprocess"])
    sample = params["sample"]
    sources = {"rhvae_hmc": Path(sample["out_dir"]),
               **{name: Path(path) for name, path in (params["audit"]["synthetic"] or {}).items() if name != "rhvae_hmc"}}
    splits = Path(params["train_vae"]["splits_dir"]) / f"{params['train_vae']['train_split']}.tsv"
    print("share of the real training volumes' voxelwise variance, per region (interior / edge / outside the brain)")
    for label in sample["labels"]:
        real = load_label_volumes(params["train_vae"]["stack"], splits, label)[0][:, 0].numpy()
        real_variance = {name: float(real.var(0)[where].mean()) for name, where in regions.items()}
        print(f"{label}: real variance " + " / ".join(f"{v:.5f}" for v in real_variance.values()))
        for name, directory in sources.items():
            volumes, _ = read_synthetic(directory / label)
            if volumes is None:
                sys.exit(f"{directory / label}: samples stored as NIfTI only; this script reads samples.npy")
            variance = np.asarray(volumes, dtype=np.float32).reshape(len(volumes), *real.shape[1:]).var(0)
            shares = [float(variance[where].mean()) / real_variance[region] for region, where in regions.items()]
            print(f"  {name:10s} " + " / ".join(f"{s:.2f}" for s in shares))


if __name__ == "__main__":
    main()
