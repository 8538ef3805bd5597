"""Cost of one Conv5_FC3 training step (Wen et al. 2020; thesis sec. 1.5.5, fig. 1.7 A1 / A2) under
the GPU settings (channels-last-3d, bf16, cuDNN), one at a time.

Not a test: run it by hand and report the figures.

    python -m benchmarks.speed.classifier_step --device cuda --variant A1 --batch-size 16
    python -m benchmarks.speed.classifier_step --device cuda --variant A2 --batch-size 32
    OMP_NUM_THREADS=1 python -m benchmarks.speed.classifier_step --variant A2 --shape 32 40 36 --batch-size 2 --threads 1

A step is forward + cross-entropy + backward + Adam on a random batch (B, 1, D, H, W) with random
labels. Variants: ``A1`` = ``baseline`` (169x208x179), ``A2`` = ``baseline-downsampled``
(84x104x89), ``small`` = the demo network; ``--shape`` overrides the input size (CPU smoke runs).

Settings, each measured alone against the fp32 default (``--settings`` picks a subset):

- ``fp32``: the project's settings (NCDHW, fp32, ``cudnn.benchmark`` off);
- ``channels_last``: network and input in ``torch.channels_last_3d``;
- ``bf16``: the forward under bf16 autocast;
- ``cudnn_benchmark``: ``torch.backends.cudnn.benchmark = True`` (its autotuning workspace is what
  an earlier H200 run peaked at 53 GB; the peak below includes the warm-up steps, where it autotunes);
- ``all``: the three together.

Each setting gets its own network copy (same initial weights) and Adam; the steps alternate
round-robin. Printed per setting: median s/step, volumes/s, and with CUDA the peak memory
(``torch.cuda.max_memory_allocated``, warm-up included). Goal for A1, batch 16:
>= 80 volumes/s with a peak no higher than 13 GB.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from benchmarks.common import REPO_ROOT as ROOT, synchronize  # noqa: E402


def _load_networks_module():
    """medaug/classify/networks.py loaded on its own: the package's __init__ pulls in the data
    loading (nibabel, MONAI, the preprocessing), which a GPU machine with only torch lacks."""
    spec = importlib.util.spec_from_file_location("conv5fc3_networks", ROOT / "medaug" / "classify" / "networks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


build_classifier = _load_networks_module().build_classifier

VARIANTS = {"A1": ("baseline", (169, 208, 179)), "A2": ("baseline-downsampled", (84, 104, 89)),
            "small": ("small", (84, 104, 89))}
SETTINGS = {
    "fp32": {},
    "channels_last": {"channels_last": True},
    "bf16": {"bf16": True},
    "cudnn_benchmark": {"cudnn_benchmark": True},
    "all": {"channels_last": True, "bf16": True, "cudnn_benchmark": True},
}



def make_step(network: nn.Module, batch: torch.Tensor, labels: torch.Tensor, device: torch.device,
              channels_last: bool = False, bf16: bool = False, cudnn_benchmark: bool = False) -> Callable[[], None]:
    """One training step of ``network`` with the given settings (the cuDNN flag is set at each call,
    so settings can alternate step by step)."""
    memory_format = torch.channels_last_3d if channels_last else torch.contiguous_format
    network = network.to(device=device, memory_format=memory_format)
    inputs = batch.to(device).contiguous(memory_format=memory_format)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-4)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        torch.backends.cudnn.benchmark = cudnn_benchmark
        autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        network.train()
        with autocast:
            loss = loss_fn(network(inputs).float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="A2")
    parser.add_argument("--shape", type=int, nargs=3, default=None, help="input D H W (default: the variant's)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--steps", type=int, default=5, help="timed steps per setting (median reported)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", default=None, help="write the figures here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("classifier_step: CUDA is not available, running on the CPU (no peak memory)")
        device = torch.device("cpu")
    name, default_shape = VARIANTS[args.variant]
    shape = tuple(args.shape or default_shape)

    torch.manual_seed(0)
    reference = build_classifier(name, shape)
    batch = torch.rand(args.batch_size, 1, *shape)
    labels = torch.randint(2, (args.batch_size,), device=device)
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, Conv5_FC3 "
          f"{args.variant} ({name}), input {tuple(batch.shape)}")
    steps = {setting: make_step(copy.deepcopy(reference), batch, labels, device, **SETTINGS[setting])
             for setting in args.settings}

    peaks: dict[str, float] = {}
    times: dict[str, list[float]] = {setting: [] for setting in steps}

    def timed(setting: str, record: bool) -> None:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        started = time.perf_counter()
        steps[setting]()
        synchronize(device)
        if record:
            times[setting].append(time.perf_counter() - started)
        if device.type == "cuda":
            peaks[setting] = max(peaks.get(setting, 0.0), torch.cuda.max_memory_allocated(device) / 2**30)

    for setting in steps:
        for _ in range(args.warmup):
            timed(setting, record=False)
    for _ in range(args.steps):
        for setting in steps:
            timed(setting, record=True)
    torch.backends.cudnn.benchmark = False

    results = {}
    for setting, values in times.items():
        median = statistics.median(values)
        results[setting] = {"median_s": median, "volumes_per_s": args.batch_size / median}
        line = f"{setting:>16}: median {median:.4f} s/step, {args.batch_size / median:7.1f} volumes/s"
        if setting in peaks:
            results[setting]["peak_gib"] = peaks[setting]
            line += f", peak {peaks[setting]:.2f} GiB"
        if setting != "fp32" and "fp32" in times:
            line += f", x{times['fp32'] and statistics.median(times['fp32']) / median:.2f} vs fp32"
        print(line)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "device": str(device), "shape": shape,
                                               "results": results, "torch": torch.__version__}, indent=2))
    return results


if __name__ == "__main__":
    main()
