"""Cost of one training step: our VAE, our RHVAE (exact and approximate gradient), the RHVAE's
arithmetic floor, and Pythae 0.1.2's RHVAE on the same networks.

Not a test: run it by hand and report the figures.

    OMP_NUM_THREADS=1 python -m benchmarks.speed.rhvae_step --threads 1
    OMP_NUM_THREADS=1 python -m benchmarks.speed.rhvae_step --threads 1 --shape 24 28 24 --batch-size 4 --skip-pythae
    python -m benchmarks.speed.rhvae_step --device cuda --shape 169 208 179 --mode cudagraph
    # with Pythae (benchmark-only extra, in its own virtual environment):
    OMP_NUM_THREADS=1 /tmp/pythae-venv/bin/python -m benchmarks.speed.rhvae_step --threads 1

One process, one input batch (default 8 x 1 x 84 x 104 x 89, latent 10, K = 3, eps 1e-3, T 1.5,
lambda 1e-2, sqrt(beta0) 0.3), identical conv encoder / decoder / metric networks (Pythae's model
gets copies of our RHVAE's modules, so the weights are the same too). A step is forward + backward
+ Adam update; steps of the models alternate (round-robin, so that the load of a shared machine
hits all of them alike); the script prints the median of ``--steps`` steps after ``--warmup`` untimed
ones, and when CUDA is used the peak memory of each (``torch.cuda.max_memory_allocated``).

**Arithmetic floor** (goal: an RHVAE step within 1.3x of it). The same network passes as one RHVAE
step, run back to back with none of the metric algebra or fixed-point iterations (thesis ch. 1,
alg. 1): the encoder and the metric network on x; K + 1 decoder evaluations, each with its
z-gradient d/dz log p(x|z) (``create_graph`` when the gradient is exact, so the backward holds the
K + 1 double backwards); one backward; one Adam update. The positions chain like the flow's
(z_{k+1} = z_k + eps grad_k), so the graph has the flow's depth. Printed: step / floor and
RHVAE / VAE, for the exact and the approximate (``backprop_through_decoder_force=False``) gradient.

**Modes** (``--mode``), applied to our models and the floor alike (Pythae runs eager):

- ``eager``: the training path as it is.
- ``compile``: ``torch.compile`` of each model's forward (the double backward of the exact gradient
  may be unsupported by the compiler: the error is printed and that model runs eager).
- ``cudagraph``: the whole step (forward, backward, ``Adam(capturable=True)``) captured in one CUDA
  graph and replayed, on a static batch. Host synchronisations are forbidden during capture, so
  for the capture only (:func:`capture_safe`): ``torch.linalg.cholesky`` becomes
  ``cholesky_ex(check_errors=False)`` (same factor; NaN instead of an error for a matrix that is
  not positive definite), ``torch.cholesky_inverse`` a triangular solve, and the models' input
  check is skipped. Library code would need the same as an opt-in before it could use graphs.
  Without CUDA it prints why and runs eager; a failed capture prints its error and runs eager.

``--bf16`` runs the forward under bf16 autocast; ``--cudnn-benchmark`` sets
``torch.backends.cudnn.benchmark``. ``--json PATH`` writes the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch


from benchmarks.common import synchronize  # noqa: E402
from medaug.models.networks import NetworkConfig  # noqa: E402
from medaug.models.rhvae import RHVAE, RHVAEConfig  # noqa: E402
from medaug.models.vae import VAE, VAEConfig  # noqa: E402



def interleaved_medians(steps: dict[str, Callable[[], None]], repeats: int, warmup: int,
                        device: torch.device = torch.device("cpu")) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Time each step function ``repeats`` times, round-robin, after ``warmup`` untimed calls each.

    Round-robin keeps slow drifts of a shared machine's load from favouring one model.
    Returns (name -> list of seconds, name -> peak GiB allocated on CUDA during its timed steps).
    """
    for step in steps.values():
        for _ in range(warmup):
            step()
    synchronize(device)
    times: dict[str, list[float]] = {name: [] for name in steps}
    peaks: dict[str, float] = {}
    for _ in range(repeats):
        for name, step in steps.items():
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            started = time.perf_counter()
            step()
            synchronize(device)
            times[name].append(time.perf_counter() - started)
            if device.type == "cuda":
                peaks[name] = max(peaks.get(name, 0.0), torch.cuda.max_memory_allocated(device) / 2**30)
    return times, peaks


def autocast(device: torch.device, bf16: bool):
    """bf16 autocast on ``device`` when asked, else a no-op context."""
    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


class FloorModel(torch.nn.Module):
    """The arithmetic floor of an RHVAE step (see the module docstring): the RHVAE's own encoder,
    metric network and decoder, without the metric algebra.

    forward(x (B, C, *S)) -> an object with ``.loss`` (scalar), like the models' outputs.
    """

    def __init__(self, rhvae: RHVAE) -> None:
        super().__init__()
        self.rhvae = rhvae

    def forward(self, x: torch.Tensor):
        model, cfg = self.rhvae, self.rhvae.config
        exact = cfg.backprop_through_decoder_force
        mean, log_var = model.encode(x)
        factors = model.metric_network(x)  # (B, d, d)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        log_likelihood = None
        for _ in range(cfg.n_leapfrog + 1):
            z_in = z if z.requires_grad else z.detach().requires_grad_(True)
            log_likelihood = model.reconstruction_log_likelihood(x, model.decoder_output(z_in))  # logits for Bernoulli
            (grad,) = torch.autograd.grad(log_likelihood.sum(), z_in, create_graph=exact, retain_graph=True)
            z = z + cfg.leapfrog_step_size * grad
        loss = -(log_likelihood.mean() - 0.5 * z.pow(2).sum(-1).mean()) + 1e-6 * factors.sum() - log_var.mean()
        return _loss_only(loss)


def _loss_only(loss: torch.Tensor):
    """A minimal stand-in for the models' output record (only ``.loss`` is read)."""
    return type("FloorOutput", (), {"loss": loss})()


def _eager_step(model: torch.nn.Module, batch: torch.Tensor, optimizer, device: torch.device,
                bf16: bool) -> Callable[[], None]:
    def step() -> None:
        model.train()
        with autocast(device, bf16):
            loss = model(batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


@contextlib.contextmanager
def capture_safe(model: torch.nn.Module):
    """What CUDA-graph capture forbids, replaced for the capture only (see the module docstring):

    - ``torch.linalg.cholesky`` checks its result on the host: ``cholesky_ex(check_errors=False)``;
    - ``torch.cholesky_inverse`` may check too: G = L^-T L^-1 from one triangular solve;
    - the model's input check (finite values) reads a flag on the host: skipped, the static batch
      was checked by the eager warm-up steps.
    """
    cholesky, cholesky_inverse = torch.linalg.cholesky, torch.cholesky_inverse

    def safe_cholesky(matrix, *, upper=False, out=None):
        return torch.linalg.cholesky_ex(matrix, upper=upper, check_errors=False).L

    def safe_cholesky_inverse(factor, upper=False):
        lower = factor.mT if upper else factor
        eye = torch.eye(lower.shape[-1], dtype=lower.dtype, device=lower.device).expand_as(lower)
        inverse_factor = torch.linalg.solve_triangular(lower, eye, upper=False)  # L^-1
        return inverse_factor.mT @ inverse_factor

    checked = [m for m in model.modules() if isinstance(m, VAE)]
    torch.linalg.cholesky, torch.cholesky_inverse = safe_cholesky, safe_cholesky_inverse
    for module in checked:
        module.check_input = lambda x: None  # instance attribute shadows the method
    try:
        yield
    finally:
        torch.linalg.cholesky, torch.cholesky_inverse = cholesky, cholesky_inverse
        for module in checked:
            del module.check_input


def _graph_step(model: torch.nn.Module, batch: torch.Tensor, learning_rate: float, device: torch.device,
                bf16: bool, warmup: int = 3) -> Callable[[], None]:
    """The whole step captured in a CUDA graph (static batch, capturable Adam); returns its replay."""
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, capturable=True)
    eager = _eager_step(model, batch, optimizer, device, bf16)
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with capture_safe(model), torch.cuda.stream(side):
        for _ in range(warmup):
            eager()
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    optimizer.zero_grad(set_to_none=True)
    model.train()
    with capture_safe(model), torch.cuda.graph(graph):
        with autocast(device, bf16):
            loss = model(batch).loss
        loss.backward()
        optimizer.step()
    return graph.replay


#: model name -> why it ran eager instead of the requested mode (written to the JSON as "fallback")
FALLBACKS: dict[str, str] = {}


def our_step(model: torch.nn.Module, batch: torch.Tensor, learning_rate: float, mode: str = "eager",
             device: torch.device = torch.device("cpu"), bf16: bool = False, name: str = "") -> Callable[[], None]:
    """A training step of ``model`` in ``mode`` (eager | compile | cudagraph); falls back to eager
    with a printed reason when the mode is not available for this model or device."""
    if mode == "cudagraph":
        if device.type != "cuda":
            FALLBACKS[name] = f"CUDA graphs need a CUDA device (this run: {device})"
            print(f"{name}: {FALLBACKS[name]}; running eager")
        else:
            try:
                return _graph_step(model, batch, learning_rate, device, bf16)
            except Exception as error:  # noqa: BLE001 - report any capture failure and go on
                FALLBACKS[name] = f"CUDA-graph capture failed ({type(error).__name__}: {str(error)[:200]})"
                print(f"{name}: {FALLBACKS[name]}; running eager")
    if mode == "compile":
        compiled = torch.compile(model)
        optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
        step = _eager_step(compiled, batch, optimizer, device, bf16)
        try:
            step()
            return step
        except Exception as error:  # noqa: BLE001 - e.g. double backward unsupported by the compiler
            FALLBACKS[name] = f"torch.compile failed ({type(error).__name__}: {str(error)[:200]})"
            print(f"{name}: {FALLBACKS[name]}; running eager")
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    return _eager_step(model, batch, optimizer, device, bf16)


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


def main(argv: list[str] | None = None) -> dict[str, float]:
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
    parser.add_argument("--mode", choices=["eager", "compile", "cudagraph"], default="eager")
    parser.add_argument("--gradient", choices=["both", "exact", "approximate"], default="both",
                        help="RHVAE gradient(s) to time: exact (backprop_through_decoder_force) and/or approximate")
    parser.add_argument("--skip-floor", action="store_true", help="do not time the arithmetic floor")
    parser.add_argument("--skip-pythae", action="store_true")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast of the forward passes")
    parser.add_argument("--cudnn-benchmark", action="store_true", help="torch.backends.cudnn.benchmark = True")
    parser.add_argument("--exact-force", action="store_true", help="same as --gradient exact (kept for old commands)")
    parser.add_argument("--json", default=None, help="write the medians (s) and peaks (GiB) here")
    args = parser.parse_args(argv)
    if args.steps < 3:
        parser.error("--steps must be >= 3")
    if args.exact_force:
        args.gradient = "exact"
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("rhvae_step: CUDA is not available, running on the CPU")
        device = torch.device("cpu")
    torch.backends.cudnn.benchmark = bool(args.cudnn_benchmark)

    torch.manual_seed(0)
    network = NetworkConfig(spatial_dims=len(args.shape), spatial_shape=tuple(args.shape), latent_size=args.latent_size,
                            architecture=args.architecture, metric_channels=args.metric_channels)
    gradients = ["exact", "approximate"] if args.gradient == "both" else [args.gradient]
    reference = RHVAE(RHVAEConfig(network=network)).to(device)
    vae = VAE(VAEConfig(network=network)).to(device)
    vae.encoder.load_state_dict(reference.encoder.state_dict())
    vae.decoder.load_state_dict(reference.decoder.state_dict())
    batch = torch.rand(args.batch_size, 1, *args.shape, device=device)
    learning_rate = 1e-5

    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, mode {args.mode}, "
          f"bf16 {args.bf16}, cudnn.benchmark {args.cudnn_benchmark}, batch {tuple(batch.shape)}, "
          f"latent {args.latent_size}, K {reference.config.n_leapfrog}, {args.architecture} networks")

    def step_of(model: torch.nn.Module, name: str) -> Callable[[], None]:
        return our_step(model, batch, learning_rate, args.mode, device, args.bf16, name)

    steps = {"ours VAE": step_of(vae, "ours VAE")}
    for gradient in gradients:
        model = RHVAE(RHVAEConfig(network=network, backprop_through_decoder_force=gradient == "exact")).to(device)
        model.load_state_dict(reference.state_dict())
        steps[f"RHVAE {gradient}"] = step_of(model, f"RHVAE {gradient}")
        if not args.skip_floor:
            steps[f"floor {gradient}"] = step_of(FloorModel(model), f"floor {gradient}")
    if not args.skip_pythae:
        pythae = pythae_step(reference, batch, learning_rate)
        if pythae is not None:
            steps["pythae RHVAE"] = pythae
    times, peaks = interleaved_medians(steps, args.steps, args.warmup, device)
    results = {}
    for name, values in times.items():
        results[name] = statistics.median(values)
        peak = f", peak {peaks[name]:.2f} GiB" if name in peaks else ""
        print(f"{name:>17}: median {results[name]:.4f} s/step{peak}  ({', '.join(f'{t:.4f}' for t in values)})")

    for gradient in gradients:
        name = f"RHVAE {gradient}"
        line = f"{gradient:>11}: RHVAE / VAE = {results[name] / results['ours VAE']:.2f}"
        if f"floor {gradient}" in results:
            line += f", step / floor = {results[name] / results[f'floor {gradient}']:.2f} (goal <= 1.3)"
        print(line)
    if "pythae RHVAE" in results:
        for gradient in gradients:
            print(f"pythae RHVAE / ours RHVAE {gradient} = {results['pythae RHVAE'] / results[f'RHVAE {gradient}']:.2f}"
                  "  (goal >= 20 on the GPU)")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "device": str(device), "median_s": results,
                                               "peak_gib": peaks, "fallback": FALLBACKS,
                                               "torch": torch.__version__}, indent=2))
    return results


if __name__ == "__main__":
    main()
