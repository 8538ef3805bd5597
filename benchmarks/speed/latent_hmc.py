"""Latent Riemannian HMC (thesis ch. 1, app. 1.8.2): seconds per run, batched chains on one device.

Not a test: run it by hand and report the figures.

    OMP_NUM_THREADS=1 python -m benchmarks.speed.latent_hmc --chains 50 --steps 300 --leapfrog 15 --threads 1
    python -m benchmarks.speed.latent_hmc --device cuda --chains 10000 --chunk-elements 2147483648

A random RHVAE metric (``--centroids`` c_i ~ N(0, I) in d = ``--latent``, L_i lower-triangular with
a positive diagonal, T = 1.5, lambda = 1e-2) and the target log p(z) = -1/2 log det G(z) of
:class:`~medaug.sampling.hmc.RiemannianHMCSampler`. All chains run as one (B, d) batch.

Two implementations are timed round-robin in the same process (median of ``--repeats``):

- ``main``: ``hmc_chains`` as committed (``git show HEAD:medaug/sampling/hmc.py``; skipped outside
  a git checkout);
- ``this``: the working tree's ``hmc_chains``.

With the same generator both must give the same samples bit for bit on the CPU (checked, printed).
``--chunk-elements`` sets the metric's chunk bound for ``this`` only (GPU: one chunk); the CPU
default leaves it, so the two compute the same sums.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

import torch

from benchmarks.common import REPO_ROOT as ROOT, synchronize  # noqa: E402

from medaug.models.metric import RHVAEMetric  # noqa: E402
from medaug.sampling.hmc import hmc_chains  # noqa: E402


def committed_hmc_chains():
    """``hmc_chains`` of HEAD's medaug/sampling/hmc.py, or None when git or the file is missing."""
    try:
        source = subprocess.run(["git", "show", "HEAD:medaug/sampling/hmc.py"], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("committed_hmc")
    sys.modules[module.__name__] = module  # dataclasses look their module up there
    exec(compile(source, "HEAD:medaug/sampling/hmc.py", "exec"), module.__dict__)
    return module.hmc_chains


def random_metric(n_centroids: int, dim: int, seed: int, device: torch.device) -> RHVAEMetric:
    """An RHVAE metric with ``n_centroids`` random centroids (N, d) and factors (N, d, d)."""
    generator = torch.Generator().manual_seed(seed)
    centroids = torch.randn(n_centroids, dim, generator=generator)
    factors = 0.3 * torch.randn(n_centroids, dim, dim, generator=generator).tril(-1)
    factors = factors + torch.diag_embed(0.5 + torch.rand(n_centroids, dim, generator=generator))
    return RHVAEMetric(centroids, factors, temperature=1.5, lam=1e-2).to(device)



def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--centroids", type=int, default=1000)
    parser.add_argument("--latent", type=int, default=10)
    parser.add_argument("--chains", type=int, default=50)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--leapfrog", type=int, default=15)
    parser.add_argument("--step-size", type=float, default=0.03)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--chunk-elements", type=int, default=None,
                        help="metric chunk bound for 'this' (default: the metric's, 2**22)")
    parser.add_argument("--skip-main", action="store_true", help="time the working tree only")
    parser.add_argument("--json", default=None, help="write the medians (s) here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("latent_hmc: CUDA is not available, running on the CPU")
        device = torch.device("cpu")

    metric = random_metric(args.centroids, args.latent, 0, device)
    radius = metric.compact_radius(2.0)
    tuned = random_metric(args.centroids, args.latent, 0, device)
    if args.chunk_elements is not None:
        tuned.chunk_elements = int(args.chunk_elements)
    z0 = metric.centroids[torch.randint(args.centroids, (args.chains,), generator=torch.Generator().manual_seed(1))
                          .to(device)].clone()

    def target_of(m: RHVAEMetric):
        def target(z):
            log_det, grad = m.log_det_and_grad_log_det_metric(z)
            return -0.5 * log_det, -0.5 * grad
        return target

    runs = {"this": (hmc_chains, target_of(tuned))}
    reference = None if args.skip_main else committed_hmc_chains()
    if reference is not None:
        runs = {"main": (reference, target_of(metric)), **runs}
    elif not args.skip_main:
        print("latent_hmc: HEAD's hmc.py not readable (no git checkout?); timing the working tree only")

    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
          f"{args.chains} chains x {args.steps} steps x {args.leapfrog} leapfrog, "
          f"{args.centroids} centroids, d = {args.latent}, chunk_elements main {metric.chunk_elements} "
          f"this {tuned.chunk_elements}")
    times: dict[str, list[float]] = {name: [] for name in runs}
    outputs = {}
    with torch.no_grad():
        for _ in range(args.repeats):
            for name, (function, target) in runs.items():
                synchronize(device)
                started = time.perf_counter()
                result = function(target, z0, args.steps, args.leapfrog, args.step_size,
                                  torch.Generator().manual_seed(2), radius)
                synchronize(device)
                times[name].append(time.perf_counter() - started)
                outputs[name] = result
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        acceptance = float(outputs[name].acceptance_rate.mean())
        print(f"{name:>5}: median {medians[name]:.3f} s  ({', '.join(f'{t:.3f}' for t in values)}); "
              f"acceptance {acceptance:.3f}")
    if "main" in medians:
        print(f"this / main = {medians['this'] / medians['main']:.3f}  (<= 1: not slower)")
        same = torch.equal(outputs["main"].samples, outputs["this"].samples)
        print(f"samples identical to main's: {same}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "device": str(device), "median_s": medians,
                                               "torch": torch.__version__}, indent=2))
    return medians


if __name__ == "__main__":
    main()
