"""Stage ``sample@<label>``: draw synthetic volumes of one label from its trained generative model.

    python -m pipelines.sample --label AD [--sampler prior] [--params params.yaml]

Reads the ``sample`` section of params.yaml and runs :func:`medaug.sampling.stage.run`, which
writes ``<out_dir>/<label>/`` as a whole, atomically (``samples.tsv``, ``samples.npy``, NIfTI
unless ``write_nifti`` is false, ``montage.png``) and ``<metrics_dir>/sample_<label>.json``. With
``--sampler NAME`` (comparing samplers) the outputs go to ``<out_dir>/by_sampler/<NAME>/<label>/``
and ``<metrics_dir>/sample_<NAME>_<label>.json`` instead, so a classifier training set can point its
``synthetic_dir`` at ``<out_dir>/by_sampler/<NAME>``.
"""

from __future__ import annotations

import argparse
import sys

from medaug.sampling.factory import SAMPLER_NAMES
from medaug.sampling.stage import run
from pipelines._params import load_params
from medaug.stage_runner import run_stage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Draw synthetic volumes of one label from its trained model.")
    parser.add_argument("--label", required=True, help="diagnosis label, e.g. AD or CN")
    parser.add_argument("--sampler", default=None, help=f"override sample.sampler (one of {', '.join(SAMPLER_NAMES)})")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    run(load_params("sample", args.params), args.label, args.sampler)
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
