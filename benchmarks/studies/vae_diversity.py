"""Does a generative model generate? Diversity of reconstructions and samples against a PCA ceiling.

    python -m benchmarks.studies.vae_diversity --label AD --steps 600 [--set rhvae.n_leapfrog=0 ...]

Trains one model of the family (the settings of params.yaml's ``train_vae`` section, with
``--set section.key=value`` overrides) for a fixed number of Adam steps on one label's training
volumes, then prints, as mean pairwise RMS differences between volumes (intensities in [0, 1]):

* the real training volumes, and their rank-d PCA reconstructions (d = latent size): how much of
  the variation between subjects a d-dimensional linear model can hold;
* the model's reconstructions of the training volumes (posterior means decoded);
* the decoded samples of the configured latent sampler and of the prior / a Gaussian mixture;
* the RMS change of the decoded volume per unit step in latent space;
* reconstruction RMSE of the model and of PCA, and the plain-VAE bound on the validation set.

A collapsed model decodes every code to nearly the same volume: its reconstruction and sample
RMS are far below the PCA figure. Several ``--set`` runs compare settings at an equal number of
optimisation steps.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch
import yaml


from medaug.audit.diversity import mean_pairwise_ms_ssim  # noqa: E402
from medaug.models.diagnostics import mean_pairwise_rms as pairwise_rms  # noqa: E402
from medaug.models.pca import pca_reconstruction  # noqa: E402
from medaug.models.vae import encode_dataset  # noqa: E402
from medaug.sampling.factory import build_latent_sampler, draw_latents  # noqa: E402
from medaug.models.registry import build_model  # noqa: E402
from medaug.volumes import load_label_volumes  # noqa: E402


@torch.no_grad()
def curve_point(model, train, val, device) -> dict:
    """Validation VAE bound and spread of reconstructions at the current weights."""
    was_training = model.training
    model.eval()
    state = torch.get_rng_state()
    torch.manual_seed(1)
    bound = float(torch.cat([model.vae_elbo(val[i : i + 16].to(device)).elbo for i in range(0, len(val), 16)]).mean())
    torch.set_rng_state(state)
    means = encode_dataset(model, train, 16)[0]
    recon = torch.cat([model.decode(means[i : i + 16]) for i in range(0, len(means), 16)]).cpu().numpy()
    model.train(was_training)
    return {"val_vae_elbo": round(bound, 1), "rms_recon": round(pairwise_rms(recon), 4),
            "rmse_recon": round(float(np.sqrt(((recon - train.numpy()) ** 2).mean())), 4)}


def apply_overrides(params: dict, overrides: list[str]) -> dict:
    params = copy.deepcopy(params)
    for item in overrides:
        key, value = item.split("=", 1)
        node = params
        *parents, leaf = key.split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = yaml.safe_load(value)
    return params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--label", default="AD")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--n-samples", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--warmup-steps", type=int, default=0, help="optimise the plain VAE bound for this many steps first")
    parser.add_argument("--eval-every", type=int, default=0, help="print the validation bound and reconstruction spread every this many steps")
    parser.add_argument("--json", default=None, help="append the figures as one JSON line to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    all_params = yaml.safe_load(Path(args.params).read_text())
    params = apply_overrides(all_params["train_vae"], args.overrides)
    sample_params = all_params["sample"]
    device = torch.device(args.device)

    splits = Path(params["splits_dir"])
    train, val = (load_label_volumes(params["stack"], splits / f"{params[key]}.tsv", args.label)[0]
                  for key in ("train_split", "validation_split"))
    torch.manual_seed(int(params["training"].get("seed", 0)))
    model = build_model(params["model"], params, tuple(train.shape[2:])).to(device)
    model.prepare_for_training(train.to(device))
    training = params["training"]
    optimizer = torch.optim.Adam(model.parameters(), lr=float(training["learning_rate"]))
    batch_size = int(training["batch_size"])
    generator = torch.Generator().manual_seed(0)
    started = time.perf_counter()
    step = 0
    history = []
    while step < args.steps:
        order = torch.randperm(train.shape[0], generator=generator)
        for start in range(0, train.shape[0] - batch_size + 1, batch_size):
            model.train()
            batch = train[order[start : start + batch_size]].to(device)
            output = model.vae_elbo(batch) if step < args.warmup_steps else model(batch)
            optimizer.zero_grad(set_to_none=True)
            output.loss.backward()
            optimizer.step()
            history.append(float(output.elbo.detach().mean()))
            step += 1
            if args.eval_every and step % args.eval_every == 0:
                print(json.dumps({"step": step, **curve_point(model, train, val, device)}), flush=True)
            if step >= args.steps:
                break
    train_seconds = time.perf_counter() - started

    model.eval()
    with torch.no_grad():
        torch.manual_seed(1)
        val_bound = float(torch.cat([model.vae_elbo(val[i : i + 16].to(device)).elbo for i in range(0, len(val), 16)]).mean())
        baseline = model.reconstruction_log_likelihood(val.to(device), train.to(device).mean(0, keepdim=True).expand_as(val))
        mean_baseline = float(baseline.mean())  # decode everything to the training mean, KL 0
        means = encode_dataset(model, train, 16)[0]
        recon = torch.cat([model.decode(means[i : i + 16]) for i in range(0, len(means), 16)]).cpu().numpy()
        direction = torch.randn(1, means.shape[1], device=device, generator=None)
        direction = direction / direction.norm()
        base = model.decode(means[:1])
        unit_step = float((model.decode(means[:1] + direction) - base).pow(2).mean().sqrt())
    model.fit_metric(train.to(device), 16)
    real = train.numpy()
    reference = pca_reconstruction(real, model.latent_size)
    pca, explained = reference.volumes, reference.explained_variance
    figures = {
        "overrides": args.overrides, "steps": args.steps, "warmup_steps": args.warmup_steps, "train_seconds": round(train_seconds, 1),
        "final_train_elbo": float(np.mean(history[-20:])), "val_vae_elbo": val_bound, "val_mean_baseline": mean_baseline,
        "code_norm": float(means.norm(dim=1).mean()),
        "rms_real": pairwise_rms(real), "rms_pca": pairwise_rms(pca), "pca_explained": explained,
        "rms_recon": pairwise_rms(recon), "rmse_recon": float(np.sqrt(((recon - real) ** 2).mean())),
        "rmse_pca": float(np.sqrt(((pca - real) ** 2).mean())), "rms_per_unit_step": unit_step,
    }
    diversity = all_params["audit"]["diversity"]

    def ms_ssim(volumes: np.ndarray) -> float:
        """Mean pairwise MS-SSIM with the audit's settings (the acceptance figure of the audit stage)."""
        return mean_pairwise_ms_ssim(volumes[:, 0], diversity["max_pairs"], 0, diversity["weights"],
                                     diversity["kernel_size"], diversity["kernel_sigma"])["ms_ssim_mean"]

    figures["msssim_real"], figures["msssim_pca"], figures["msssim_recon"] = ms_ssim(real), ms_ssim(pca), ms_ssim(recon)
    samplers = {"prior": {}, "gmm": sample_params["samplers"]["gmm"]}
    if model.model_type == "rhvae":
        samplers["rhvae_hmc"] = sample_params["samplers"]["rhvae_hmc"]
    for name, options in samplers.items():
        sampler = build_latent_sampler(name, model, options, training_means=means.cpu(), num_threads=1)
        draw = draw_latents(sampler, args.n_samples, torch.Generator().manual_seed(5))
        with torch.no_grad():
            decoded = torch.cat([model.decode(draw.latents[i : i + 16].to(device)) for i in range(0, args.n_samples, 16)]).cpu().numpy()
        flat_s = decoded.reshape(len(decoded), -1)
        flat_r = real.reshape(len(real), -1)
        nearest = np.sqrt(((flat_s[:, None, :] - flat_r[None]) ** 2).mean(-1)).min(1)
        figures[f"rms_{name}"] = pairwise_rms(decoded)
        figures[f"msssim_{name}"] = ms_ssim(decoded)
        figures[f"nn_{name}"] = float(np.median(nearest))
        figures[f"z_norm_{name}"] = float(draw.latents.norm(dim=1).mean())
        if draw.mean_acceptance is not None:
            figures[f"acc_{name}"] = draw.mean_acceptance
    print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in figures.items()}))
    if args.json:
        with open(args.json, "a") as handle:
            handle.write(json.dumps(figures) + "\n")


if __name__ == "__main__":
    main()
