"""Riemannian HMC chain blocks in one process against the same blocks in worker processes
(``samplers.<name>.chain_blocks``, ``sample.sampler_workers``), measured in the same session. Not a test.

    python -m benchmarks.speed.hmc_workers [--chains 200] [--centroids 72] [--latent 50] [--steps 60] [--repeats 3]

A random RHVAE metric (:func:`benchmarks.speed.latent_hmc.random_metric`: ``--centroids`` codes in
d = ``--latent``, the demo's trained models have 72 and 50) and the demo's HMC settings, shortened
to ``--steps`` steps after 20 burn-in steps. Each repeat runs ``--chains`` chains in ``--blocks``
blocks twice, with ``workers`` 1 (one process, one thread) and ``workers`` = ``--blocks`` (one
thread each); the order alternates per repeat so that the load of other processes hits both alike.
Prints the wall times (the workers' start-up included), the medians, the ratio parallel / serial,
and whether the two gave the same samples bit for bit (they must).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from benchmarks.speed.latent_hmc import random_metric
from medaug.sampling.hmc import RiemannianHMCSampler


def _timed(metric, chains: int, blocks: int, workers: int, steps: int) -> tuple[float, torch.Tensor]:
    sampler = RiemannianHMCSampler(metric, n_steps=steps, n_leapfrog=15, step_size=0.03, adapt_steps=20,
                                   target_acceptance=0.65, support_temperatures=2.0, num_threads=1,
                                   chain_blocks=blocks, workers=workers)
    started = time.perf_counter()
    samples = sampler.sample(chains, torch.Generator().manual_seed(0))
    return time.perf_counter() - started, samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=200)
    parser.add_argument("--centroids", type=int, default=72)
    parser.add_argument("--latent", type=int, default=50)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    metric = random_metric(args.centroids, args.latent, 0, torch.device("cpu"))
    times: dict[int, list[float]] = {1: [], args.blocks: []}
    same = True
    for repeat in range(args.repeats):
        order = [1, args.blocks] if repeat % 2 == 0 else [args.blocks, 1]
        samples = {}
        for workers in order:
            seconds, samples[workers] = _timed(metric, args.chains, args.blocks, workers, args.steps)
            times[workers].append(seconds)
            print(f"repeat {repeat}: workers {workers}: {seconds:.1f} s")
        same &= torch.equal(samples[1], samples[args.blocks])
    serial, parallel = statistics.median(times[1]), statistics.median(times[args.blocks])
    print(f"{args.chains} chains in {args.blocks} blocks, {args.steps} + 20 steps of 15 leapfrog steps, "
          f"{args.centroids} centroids, d = {args.latent}")
    print(f"median: 1 worker {serial:.1f} s, {args.blocks} workers {parallel:.1f} s; ratio {parallel / serial:.2f}")
    print(f"same samples bit for bit: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
