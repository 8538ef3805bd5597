"""Cost of one training step: our VAE, our RHVAE and Pythae 0.1.2's RHVAE on the same networks.

Not a test: run it by hand and report the figures.

    OMP_NUM_THREADS=1 python benchmarks/rhvae_step.py --threads 1
    # with Pythae (benchmark-only extra, in its own virtual environment):
    OMP_NUM_THREADS=1 /tmp/pythae-venv/bin/python benchmarks/rhvae_step.py --threads 1

One process, one input batch (default 8 x 1 x 84 x 104 x 89, latent 10, K = 3, eps 1e-3, T 1.5,
lambda 1e-2, sqrt(beta0) 0.3), identical conv encoder / decoder / metric networks (Pythae's model
gets copies of our RHVAE's modules, so the weights are the same too). A step is forward + backward
+ Adam update; steps of the models alternate (round-robin, so that the load of a shared machine
hits all of them alike); the script prints the median of ``--steps`` steps after ``--warmup`` untimed ones,
and the ratios ours RHVAE / ours VAE (goal <= 4) and Pythae RHVAE / ours RHVAE (goal >= 4).
When Pythae is not importable, its half is skipped with a message.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from medaug.models.networks import NetworkConfig  # noqa: E402
from medaug.models.rhvae import RHVAE, RHVAEConfig  # noqa: E402
from medaug.models.vae import VAE, VAEConfig  # noqa: E402


def interleaved_medians(steps: dict[str, Callable[[], None]], repeats: int, warmup: int) -> dict[str, list[float]]:
    """Time each step function ``repeats`` times, round-robin, after ``warmup`` untimed calls each.

    Round-robin keeps slow drifts of a shared machine's load from favouring one model.
    Returns name -> list of seconds.
    """
    for step in steps.values():
        for _ in range(warmup):
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            started = time.perf_counter()
            step()
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - started)
    return times


def our_step(model: torch.nn.Module, batch: torch.Tensor, learning_rate: float) -> Callable[[], None]:
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)

    def step() -> None:
        model.train()
        loss = model(batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def pythae_step(reference: RHVAE, batch: torch.Tensor, learning_rate: float) -> Callable[[], None] | None:
    """A Pythae RHVAE step with copies of ``reference``'s networks, or None if Pythae is missing."""
    try:
        from pythae.models import RHVAE as PythaeRHVAE
        from pythae.models import RHVAEConfig as PythaeRHVAEConfig
        from pythae.models.base.base_utils import ModelOutput
        from pythae.models.nn import BaseDecoder, BaseEncoder, BaseMetric
    except ImportError as error:
        print(f"pythae is not importable ({error}); skipping the Pythae half. "
              "Install pythae==0.1.2 in a separate virtual environment and run this script with its python.")
        return None

    class Encoder(BaseEncoder):
        def __init__(self, network: torch.nn.Module) -> None:
            super().__init__()
            self.network = network

        def forward(self, x):
            mean, log_var = self.network(x)
            return ModelOutput(embedding=mean, log_covariance=log_var)

    class Decoder(BaseDecoder):
        def __init__(self, network: torch.nn.Module) -> None:
            super().__init__()
            self.network = network

        def forward(self, z):
            return ModelOutput(reconstruction=self.network(z))

    class Metric(BaseMetric):
        def __init__(self, network: torch.nn.Module) -> None:
            super().__init__()
            self.network = network

        def forward(self, x):
            return ModelOutput(L=self.network(x))

    cfg = reference.config
    config = PythaeRHVAEConfig(
        input_dim=tuple(cfg.network.in_shape),
        latent_dim=cfg.network.latent_size,
        reconstruction_loss="mse",
        n_lf=cfg.n_leapfrog,
        eps_lf=cfg.leapfrog_step_size,
        beta_zero=cfg.sqrt_beta_zero,
        temperature=cfg.metric_temperature,
        regularization=cfg.metric_lambda,
    )
    model = PythaeRHVAE(
        config,
        encoder=Encoder(copy.deepcopy(reference.encoder)),
        decoder=Decoder(copy.deepcopy(reference.decoder)),
        metric=Metric(copy.deepcopy(reference.metric_network)),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    inputs = {"data": batch}

    def step() -> None:
        model.train()
        loss = model(inputs).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--shape", type=int, nargs="+", default=[84, 104, 89], help="spatial shape")
    parser.add_argument("--latent-size", type=int, default=10)
    parser.add_argument("--architecture", choices=["conv", "mlp"], default="conv",
                        help="conv (default networks) or mlp (thesis table 1.13; mind the memory at full size)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps (median reported); >= 3")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--metric-channels", type=int, nargs="+", default=None,
                        help="channels of the metric network's conv trunk (default: the encoder's)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-pythae", action="store_true")
    parser.add_argument("--exact-force", action="store_true",
                        help="our RHVAE with backprop_through_decoder_force=True (exact ELBO gradient)")
    args = parser.parse_args(argv)
    if args.steps < 3:
        parser.error("--steps must be >= 3")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    torch.manual_seed(0)
    network = NetworkConfig(spatial_dims=len(args.shape), spatial_shape=tuple(args.shape), latent_size=args.latent_size,
                            architecture=args.architecture, metric_channels=args.metric_channels)
    rhvae = RHVAE(RHVAEConfig(network=network, backprop_through_decoder_force=args.exact_force)).to(device)
    vae = VAE(VAEConfig(network=network)).to(device)
    vae.encoder.load_state_dict(rhvae.encoder.state_dict())
    vae.decoder.load_state_dict(rhvae.decoder.state_dict())
    batch = torch.rand(args.batch_size, 1, *args.shape, device=device)
    learning_rate = 1e-5

    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
          f"batch {tuple(batch.shape)}, latent {args.latent_size}, K {rhvae.config.n_leapfrog}, {args.architecture} networks")
    steps = {"ours VAE": our_step(vae, batch, learning_rate), "ours RHVAE": our_step(rhvae, batch, learning_rate)}
    if not args.skip_pythae:
        pythae = pythae_step(rhvae, batch, learning_rate)
        if pythae is not None:
            steps["pythae RHVAE"] = pythae
    results = {}
    for name, times in interleaved_medians(steps, args.steps, args.warmup).items():
        results[name] = statistics.median(times)
        print(f"{name:>13}: median {results[name]:.3f} s/step  ({', '.join(f'{t:.3f}' for t in times)})")

    ratio = results["ours RHVAE"] / results["ours VAE"]
    print(f"ours RHVAE / ours VAE   = {ratio:.2f}  (goal <= 4)")
    if "pythae RHVAE" in results:
        print(f"pythae RHVAE / ours RHVAE = {results['pythae RHVAE'] / results['ours RHVAE']:.2f}  (goal >= 4)")
        print(f"pythae RHVAE / ours VAE   = {results['pythae RHVAE'] / results['ours VAE']:.2f}")


if __name__ == "__main__":
    main()
