"""Latent-space sampling benchmark: our RHVAE HMC sampler against pythae 0.1.2's.

Same metric (N centroids, latent d, random L with a positive diagonal), same process, one thread:
C chains x S MCMC steps x K leapfrog steps. Prints the median wall time of each and the ratio
(goal: ours >= 10x faster), then the decoding rate of a small 3D conv decoder (84x104x89 volumes).

pythae is a benchmark-only extra; install it in a separate venv so it cannot pull a CUDA torch:
    python -m venv /tmp/pythae-venv --system-site-packages
    /tmp/pythae-venv/bin/pip install --no-deps pythae==0.1.2 imageio
    /tmp/pythae-venv/bin/python -m benchmarks.speed.sampling
Without pythae the script times ours alone and says why.

Note: pythae's sampler is not a correct reference (wrong closed-form gradient, log(sqrt(det)+1e-10),
no compact set); it is timed on the same workload only.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import deque

import torch
from torch import nn


from medaug.models.metric import RHVAEMetric  # noqa: E402
from medaug.sampling import RiemannianHMCSampler  # noqa: E402


def random_metric(n_centroids: int, latent_dim: int, temperature: float, lam: float, seed: int) -> RHVAEMetric:
    gen = torch.Generator().manual_seed(seed)
    centroids = torch.randn(n_centroids, latent_dim, generator=gen)
    lower = 0.3 * torch.tril(torch.randn(n_centroids, latent_dim, latent_dim, generator=gen), -1)
    diag = torch.exp(0.3 * torch.randn(n_centroids, latent_dim, generator=gen))
    return RHVAEMetric(centroids, lower + torch.diag_embed(diag), temperature, lam)


def time_ours(metric: RHVAEMetric, args) -> tuple[float, float]:
    sampler = RiemannianHMCSampler(
        metric, n_steps=args.steps, n_leapfrog=args.leapfrog, step_size=args.step_size, num_threads=1
    )
    start = time.perf_counter()
    result = sampler.run(args.chains, torch.Generator().manual_seed(0))
    return time.perf_counter() - start, result.mean_acceptance


def pythae_sampler(metric: RHVAEMetric, args):
    """pythae's RHVAESampler on a pythae RHVAE whose metric tensors are ours."""
    from pythae.models import RHVAE, RHVAEConfig
    from pythae.samplers import RHVAESampler, RHVAESamplerConfig

    config = RHVAEConfig(
        input_dim=(1, 8, 8), latent_dim=metric.latent_dim, temperature=metric.temperature, regularization=metric.lam
    )
    model = RHVAE(config)
    model.M = deque([metric.gram.detach().clone()])
    model.centroids = deque([metric.centroids.detach().clone()])
    model._update_metric()
    sampler_config = RHVAESamplerConfig(
        mcmc_steps_nbr=args.steps, n_lf=args.leapfrog, eps_lf=args.step_size, beta_zero=1.0
    )
    return RHVAESampler(model, sampler_config)


def time_pythae(sampler, n_chains: int) -> float:
    torch.manual_seed(0)
    start = time.perf_counter()
    sampler.hmc_sampling(n_chains)
    return time.perf_counter() - start


class TinyDecoder3d(nn.Module):
    """latent (B, d) -> volume (B, 1, 84, 104, 89): a linear layer and four stride-2 transposed convs."""

    def __init__(self, latent_dim: int, channels: tuple[int, ...] = (64, 32, 16, 8), shape=(84, 104, 89)) -> None:
        super().__init__()
        self.shape = shape
        self.seed_shape = tuple(-(-s // 16) for s in shape)  # ceil(s / 2^4)
        self.fc = nn.Linear(latent_dim, channels[0] * int(torch.tensor(self.seed_shape).prod()))
        layers = []
        for c_in, c_out in zip(channels, channels[1:] + (1,)):
            layers += [nn.ConvTranspose3d(c_in, c_out, 4, stride=2, padding=1), nn.ReLU()]
        layers[-1] = nn.Sigmoid()
        self.net = nn.Sequential(*layers)
        self.channels = channels

    def forward(self, z):
        x = self.fc(z).reshape(z.shape[0], self.channels[0], *self.seed_shape)
        x = self.net(x)
        d, h, w = self.shape
        return x[:, :, :d, :h, :w]


def time_decoding(latents: torch.Tensor, batch_size: int, repeats: int) -> float:
    decoder = TinyDecoder3d(latents.shape[1]).eval()
    times = []
    with torch.no_grad():
        decoder(latents[:1])  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            for i in range(0, latents.shape[0], batch_size):
                volumes = decoder(latents[i : i + batch_size])
            times.append(time.perf_counter() - start)
    assert volumes.shape[2:] == (84, 104, 89)
    return latents.shape[0] / statistics.median(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--centroids", type=int, default=1000)
    parser.add_argument("--latent-dim", type=int, default=10)
    parser.add_argument("--chains", type=int, default=50)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--leapfrog", type=int, default=15)
    parser.add_argument("--step-size", type=float, default=0.03)
    parser.add_argument("--temperature", type=float, default=1.5)
    parser.add_argument("--lam", type=float, default=1e-2)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of our sampler")
    parser.add_argument("--pythae-repeats", type=int, default=1, help="timed runs of pythae's (slow)")
    parser.add_argument("--decode", type=int, default=50, help="volumes to decode (0: skip)")
    parser.add_argument("--decode-batch", type=int, default=10)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    metric = random_metric(args.centroids, args.latent_dim, args.temperature, args.lam, seed=0)
    print(
        f"workload: N={args.centroids} centroids, d={args.latent_dim}, {args.chains} chains x "
        f"{args.steps} steps x {args.leapfrog} leapfrog, eps={args.step_size}, 1 thread, torch {torch.__version__}"
    )
    ours = [time_ours(metric, args) for _ in range(args.repeats)]
    ours_median = statistics.median(t for t, _ in ours)
    print(f"ours:   median {ours_median:.2f} s over {args.repeats} runs (acceptance {ours[0][1]:.3f})")

    try:
        sampler = pythae_sampler(metric, args)
    except ImportError as error:
        print(f"pythae: skipped, not importable ({error}); see the module docstring to install it")
    else:
        pythae_times = [time_pythae(sampler, args.chains) for _ in range(args.pythae_repeats)]
        pythae_median = statistics.median(pythae_times)
        print(f"pythae: median {pythae_median:.2f} s over {args.pythae_repeats} runs")
        print(f"ratio pythae / ours: {pythae_median / ours_median:.1f}x (goal >= 10x)")

    if args.decode > 0:
        latents = RiemannianHMCSampler(metric, n_steps=1, n_leapfrog=1).sample(args.decode)
        rate = time_decoding(latents, args.decode_batch, repeats=3)
        print(f"decoding (benchmark-local conv decoder, 84x104x89, batch {args.decode_batch}): {rate:.1f} volumes/s")


if __name__ == "__main__":
    main()
