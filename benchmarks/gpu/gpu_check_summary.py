"""The table printed at the end of ``benchmarks/gpu/gpu_check.sh``: the reference GPU figures (measured on
one H200 with the code of commit 589613c) beside the figure of this run, read from the JSON files the
benchmarks wrote into one folder.

    python -m benchmarks.gpu.gpu_check_summary DIR [--cpu-smoke]

A figure this run did not produce is printed as "not measured"; nothing is filled in from elsewhere.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

#: (row label, reference figure as text, (json file, path of keys), unit) - times in ms unless stated.
ROWS = [
    ("84x104x89 b8: our VAE step", "8 ms", ("rhvae_s1_eager", ("median_s", "ours VAE")), "ms"),
    ("84x104x89 b8: our RHVAE step, exact, eager", "77 ms", ("rhvae_s1_eager", ("median_s", "RHVAE exact")), "ms"),
    ("84x104x89 b8: our RHVAE step, approx., eager", "-", ("rhvae_s1_eager", ("median_s", "RHVAE approximate")), "ms"),
    ("84x104x89 b8: floor, exact", "-", ("rhvae_s1_eager", ("median_s", "floor exact")), "ms"),
    ("84x104x89 b8: floor, approx.", "-", ("rhvae_s1_eager", ("median_s", "floor approximate")), "ms"),
    ("84x104x89 b8: RHVAE exact, CUDA graph", "-", ("rhvae_s1_cudagraph", ("median_s", "RHVAE exact")), "ms"),
    ("84x104x89 b8: RHVAE approx., CUDA graph", "-", ("rhvae_s1_cudagraph", ("median_s", "RHVAE approximate")), "ms"),
    ("84x104x89 b8: VAE, CUDA graph", "-", ("rhvae_s1_cudagraph", ("median_s", "ours VAE")), "ms"),
    ("84x104x89 b8: RHVAE approx., torch.compile", "-", ("rhvae_s1_compile", ("median_s", "RHVAE approximate")), "ms"),
    ("84x104x89 b8: pythae 0.1.2 RHVAE", "733 ms", ("rhvae_s1_eager", ("median_s", "pythae RHVAE")), "ms"),
    ("84x104x89 b32: RHVAE exact (cudnn.benchmark)", "96 ms", ("rhvae_s1_b32", ("median_s", "RHVAE exact")), "ms"),
    ("169x208x179 b8: our VAE step", "32 ms", ("rhvae_s2_eager", ("median_s", "ours VAE")), "ms"),
    ("169x208x179 b8: our RHVAE step, exact, eager", "152 ms", ("rhvae_s2_eager", ("median_s", "RHVAE exact")), "ms"),
    ("169x208x179 b8: our RHVAE step, approx., eager", "-", ("rhvae_s2_eager", ("median_s", "RHVAE approximate")), "ms"),
    ("169x208x179 b8: floor, exact", "-", ("rhvae_s2_eager", ("median_s", "floor exact")), "ms"),
    ("169x208x179 b8: floor, approx.", "-", ("rhvae_s2_eager", ("median_s", "floor approximate")), "ms"),
    ("169x208x179 b8: RHVAE exact, CUDA graph", "-", ("rhvae_s2_cudagraph", ("median_s", "RHVAE exact")), "ms"),
    ("169x208x179 b8: RHVAE approx., CUDA graph", "-", ("rhvae_s2_cudagraph", ("median_s", "RHVAE approximate")), "ms"),
    ("169x208x179 b8: pythae 0.1.2 RHVAE", "5499 ms", ("rhvae_s2_eager", ("median_s", "pythae RHVAE")), "ms"),
    ("169x208x179 b16: RHVAE exact fp32", "215 ms", ("rhvae_s2_b16", ("median_s", "RHVAE exact")), "ms"),
    ("169x208x179 b16: RHVAE exact fp32 peak", "9.2 GB", ("rhvae_s2_b16", ("peak_gib", "RHVAE exact")), "GiB"),
    ("169x208x179 b16: RHVAE exact bf16", "212 ms", ("rhvae_s2_b16_bf16", ("median_s", "RHVAE exact")), "ms"),
    ("169x208x179 b16: VAE fp32", "61 ms", ("rhvae_s2_b16", ("median_s", "ours VAE")), "ms"),
    ("169x208x179 b16: VAE bf16", "48 ms", ("rhvae_s2_b16_bf16", ("median_s", "ours VAE")), "ms"),
    ("Conv5_FC3 A1 b16 fp32", "291 ms", ("classifier_a1", ("results", "fp32", "median_s")), "ms"),
    ("Conv5_FC3 A1 b16 fp32 volumes/s", "55 (goal >= 80)", ("classifier_a1", ("results", "fp32", "volumes_per_s")), "x"),
    ("Conv5_FC3 A1 b16 fp32 peak", "13.1 GB", ("classifier_a1", ("results", "fp32", "peak_gib")), "GiB"),
    ("Conv5_FC3 A1 b16 channels_last_3d", "-", ("classifier_a1", ("results", "channels_last", "median_s")), "ms"),
    ("Conv5_FC3 A1 b16 bf16", "383 ms", ("classifier_a1", ("results", "bf16", "median_s")), "ms"),
    ("Conv5_FC3 A1 b16 cudnn.benchmark", "~5 % faster", ("classifier_a1", ("results", "cudnn_benchmark", "median_s")), "ms"),
    ("Conv5_FC3 A1 b16 cudnn.benchmark peak", "53 GB", ("classifier_a1", ("results", "cudnn_benchmark", "peak_gib")), "GiB"),
    ("Conv5_FC3 A1 b16 all three", "-", ("classifier_a1", ("results", "all", "median_s")), "ms"),
    ("Conv5_FC3 A2 b32 fp32", "74 ms", ("classifier_a2", ("results", "fp32", "median_s")), "ms"),
    ("Conv5_FC3 A2 b32 fp32 peak", "3.2 GB", ("classifier_a2", ("results", "fp32", "peak_gib")), "GiB"),
    ("Conv5_FC3 A2 b32 bf16", "94 ms", ("classifier_a2", ("results", "bf16", "median_s")), "ms"),
    ("Conv5_FC3 A2 b32 cudnn.benchmark peak", "13 GB", ("classifier_a2", ("results", "cudnn_benchmark", "peak_gib")), "GiB"),
    ("HMC 50 chains x300x15, CPU 1 thread, main", "5.8 s", ("hmc_cpu", ("median_s", "main")), "s"),
    ("HMC 50 chains x300x15, CPU 1 thread, this", "-", ("hmc_cpu", ("median_s", "this")), "s"),
    ("HMC 50 chains x300x15, GPU, main", "8.9 s", ("hmc_gpu_50", ("median_s", "main")), "s"),
    ("HMC 50 chains x300x15, GPU, this (one chunk)", "-", ("hmc_gpu_50", ("median_s", "this")), "s"),
    ("HMC 10000 chains x300x15, GPU, this (one chunk)", "> 230 s (goal <= 10 s)", ("hmc_gpu_10000", ("median_s", "this")), "s"),
]

RATIOS = [
    ("84x104x89: RHVAE / VAE, exact", "9.65", "rhvae_s1_eager", "RHVAE exact", "ours VAE"),
    ("84x104x89: RHVAE / VAE, approx.", "-", "rhvae_s1_eager", "RHVAE approximate", "ours VAE"),
    ("84x104x89: step / floor, exact (goal <= 1.3)", "-", "rhvae_s1_eager", "RHVAE exact", "floor exact"),
    ("84x104x89: step / floor, approx. (goal <= 1.3)", "-", "rhvae_s1_eager", "RHVAE approximate", "floor approximate"),
    ("84x104x89: CUDA-graph step / eager floor, exact", "-", ("rhvae_s1_cudagraph", "rhvae_s1_eager"), "RHVAE exact", "floor exact"),
    ("84x104x89: pythae / ours, exact (goal >= 20)", "9.5", "rhvae_s1_eager", "pythae RHVAE", "RHVAE exact"),
    ("169x208x179: RHVAE / VAE, exact", "4.8", "rhvae_s2_eager", "RHVAE exact", "ours VAE"),
    ("169x208x179: RHVAE / VAE, approx.", "-", "rhvae_s2_eager", "RHVAE approximate", "ours VAE"),
    ("169x208x179: step / floor, exact (goal <= 1.3)", "-", "rhvae_s2_eager", "RHVAE exact", "floor exact"),
    ("169x208x179: step / floor, approx. (goal <= 1.3)", "-", "rhvae_s2_eager", "RHVAE approximate", "floor approximate"),
    ("169x208x179: CUDA-graph step / eager floor, exact", "-", ("rhvae_s2_cudagraph", "rhvae_s2_eager"), "RHVAE exact", "floor exact"),
    ("169x208x179: pythae / ours, exact (goal >= 20)", "36", "rhvae_s2_eager", "pythae RHVAE", "RHVAE exact"),
]


def _lookup(folder: Path, name: str, keys: tuple[str, ...]):
    path = folder / f"{name}.json"
    if not path.exists():
        return None
    value = json.loads(path.read_text())
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _format(value, unit: str) -> str:
    if value is None:
        return "not measured"
    if unit == "ms":
        return f"{1000 * value:.1f} ms"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "GiB":
        return f"{value:.2f} GiB"
    return f"{value:.1f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--cpu-smoke", action="store_true", help="label the run column as CPU smoke sizes")
    args = parser.parse_args(argv)
    this = "this run (CPU smoke: tiny sizes, NOT comparable)" if args.cpu_smoke else "this run"
    width = max(len(row[0]) for row in ROWS + RATIOS) + 2
    print(f"{'figure':<{width}}{'earlier (H200)':<26}{this}")
    for label, reference, (name, keys), unit in ROWS:
        text = _format(_lookup(args.folder, name, keys), unit)
        model = keys[-1]
        fallback = _lookup(args.folder, name, ("fallback", model))
        if fallback is not None and text != "not measured":
            text += f" (ran eager: {fallback[:60]})"
        print(f"{label:<{width}}{reference:<26}{text}")
    for label, reference, names, numerator, denominator in RATIOS:
        top_file, bottom_file = names if isinstance(names, tuple) else (names, names)
        top = _lookup(args.folder, top_file, ("median_s", numerator))
        bottom = _lookup(args.folder, bottom_file, ("median_s", denominator))
        value = None if top is None or not bottom else top / bottom
        print(f"{label:<{width}}{reference:<26}{_format(value, 'x')}" if value is None
              else f"{label:<{width}}{reference:<26}{value:.2f}")


if __name__ == "__main__":
    main()
