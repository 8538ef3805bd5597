"""Share of the trainer's wall time spent outside the training step (forward + backward + Adam step).

Not a test: run it by hand and report the figures.

    OMP_NUM_THREADS=1 python -m benchmarks.speed.trainer_overhead --threads 1

Two cases, each run ``--repeats`` times with fresh output folders (no resume), after one untimed
run that pays the process's one-off costs (kernel selection, imports); modes are interleaved
round-robin so that the load of a shared machine hits them alike:

- ``toy2d``: 64 random 32x32 images, one batch of 64 (one step per epoch), a small conv VAE
  (latent 4), 200 epochs, no validation set;
- ``demo3d``: 16 random 1x42x52x44 volumes (the demo's model-ready shape), batches of 8, 3 epochs,
  an RHVAE with the ``train_vae`` network and ``rhvae`` sections of params.yaml.

A training step is timed from the model's forward pre-hook (training mode only) to the optimiser's
step post-hook, so the per-batch NaN checks between backward and step count as step time. For each
run the script prints two shares of wall time outside those steps (median over repeats):

- ``loop``: from the first step's start to the last step's end (what every epoch adds: validation,
  state copies, checkpoints, curves);
- ``total``: the whole ``train_model`` call (also the set-up, the final ``fit_metric``, the saved
  model and the curve figure, paid once).

Modes: ``default`` (the trainer's own settings: time-based checkpoints) and ``every_epoch``
(``checkpoint_every_s=0``: the full state and the curve table written after every epoch, as the
trainer did before checkpoints were timed); ``--validation`` adds a validation set of a quarter of
the training size to both cases.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook
import yaml


from medaug.models.networks import NetworkConfig  # noqa: E402
from medaug.models.rhvae import RHVAE, RHVAEConfig  # noqa: E402
from medaug.models.vae import VAE, VAEConfig  # noqa: E402
from medaug.train import TrainingConfig, train_model  # noqa: E402

from benchmarks.common import REPO_ROOT as REPO  # noqa: E402


class StepTimer:
    """Sums the seconds between a training forward pass and the optimiser step that follows it."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.step_seconds = 0.0
        self.first_start: float | None = None
        self.last_end: float | None = None
        self._start: float | None = None
        self._handles = [
            model.register_forward_pre_hook(self._forward_started),
            register_optimizer_step_post_hook(self._step_ended),
        ]

    def _forward_started(self, module, args) -> None:
        if module.training:
            self._start = time.perf_counter()
            if self.first_start is None:
                self.first_start = self._start

    def _step_ended(self, optimizer, args, kwargs) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        now = time.perf_counter()
        if self._start is not None:
            self.step_seconds += now - self._start
            self._start = None
        self.last_end = now

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


def training_config(**values) -> TrainingConfig:
    """A TrainingConfig from the keys this version of the trainer knows (others are dropped)."""
    known = {f.name for f in dataclasses.fields(TrainingConfig)}
    return TrainingConfig(**{k: v for k, v in values.items() if k in known})


def toy2d(validation: bool):
    generator = torch.Generator().manual_seed(0)
    train = torch.rand(64, 1, 32, 32, generator=generator)
    val = torch.rand(16, 1, 32, 32, generator=generator) if validation else None
    network = NetworkConfig(spatial_dims=2, spatial_shape=(32, 32), channels=(8, 16), strides=(2, 2), latent_size=4,
                            metric_hidden_size=16)

    def build():
        torch.manual_seed(0)
        return VAE(VAEConfig(network=network, observation_std=0.1))

    return build, train, val, dict(batch_size=64, max_epochs=200, patience=1000)


def demo3d(validation: bool):
    params = yaml.safe_load((REPO / "params.yaml").read_text())["train_vae"]
    generator = torch.Generator().manual_seed(0)
    shape = (42, 52, 44)
    train = torch.rand(16, 1, *shape, generator=generator)
    val = torch.rand(4, 1, *shape, generator=generator) if validation else None
    network = NetworkConfig.from_dict({**params["network"], "spatial_dims": 3, "spatial_shape": list(shape)})
    rhvae = {k: v for k, v in params.get("rhvae", {}).items() if k in {f.name for f in dataclasses.fields(RHVAEConfig)}}

    def build():
        torch.manual_seed(0)
        return RHVAE(RHVAEConfig.from_dict({**rhvae, "network": network}))

    return build, train, val, dict(batch_size=8, max_epochs=3, patience=1000)


def run_once(build, train, val, values: dict) -> tuple[float, float]:
    """(loop share, total share) of wall time outside training steps for one fresh training run."""
    model = build()
    timer = StepTimer(model)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            train_model(model, train, val, training_config(**values), tmp)
            total = time.perf_counter() - started
    finally:
        timer.remove()
    loop = timer.last_end - timer.first_start
    return 1.0 - timer.step_seconds / loop, 1.0 - timer.step_seconds / total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", nargs="+", default=["toy2d", "demo3d"], choices=["toy2d", "demo3d"])
    parser.add_argument("--validation", action="store_true", help="add a validation set (a quarter of the training size)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    modes = {"default": {}, "every_epoch": {"checkpoint_every_s": 0.0}}
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.repeats} repeats, validation={args.validation}")
    for case in args.cases:
        build, train, val, values = {"toy2d": toy2d, "demo3d": demo3d}[case](args.validation)
        values = {**values, "learning_rate": 1e-3, "progress": False, "device": "cpu", "eval_batch_size": 25}
        shares: dict[str, list[tuple[float, float]]] = {mode: [] for mode in modes}
        run_once(build, train, val, values)  # warm-up, untimed
        for _ in range(args.repeats):
            for mode, extra in modes.items():
                shares[mode].append(run_once(build, train, val, {**values, **extra}))
        medians = {mode: (statistics.median(s[0] for s in runs), statistics.median(s[1] for s in runs))
                   for mode, runs in shares.items()}
        for mode, (loop, total) in medians.items():
            print(f"{case:7s} {mode:12s} outside the training step: loop {100 * loop:5.1f} %, total {100 * total:5.1f} %")
        default, every = medians["default"], medians["every_epoch"]
        print(f"{case:7s} every_epoch / default overhead: loop {every[0] / max(default[0], 1e-9):.1f}x, "
              f"total {every[1] / max(default[1], 1e-9):.1f}x")


if __name__ == "__main__":
    main()
