"""Does the trained generator beat its PPCA start on held-out volumes, and how much real variance do its samples hold?

    python -m benchmarks.studies.generator_vs_start [--params params.yaml] [--labels CN AD]
        [--set training.linear_path_learning_rate=1e-4 --set network.latent_size=auto ...] [--pool-labels]

Trains one model per label with the ``train_vae`` parameters (``--set`` overrides keys of that
section, dotted) into a temporary folder, then prints for each label:

* the held-out PPCA log-likelihood per candidate latent size (``latent_size_selection``);
* the validation VAE bound of the untrained start, of the kept model and of its linear path alone
  (networks zeroed), and the kept epoch;
* the share of the real training volumes' voxelwise variance inside the template brain mask held
  by 200 prior samples decoded by the kept model and by its reconstructions of the training set;
* the validation bound after the first epoch and its best after the start, against the start's;
* the bound of the kept model against its start on the ``--test-split`` volumes (default: the
  split of the classifiers' internal test), which neither epoch selection nor any setting was
  chosen on: a validation gain of a few nats that is selection noise shows up here as none.

``--pool-labels`` trains each label's networks on every label's training volumes, the other labels'
shifted onto this label's mean (x - m_other + m_label): twice the volumes for the residual the
networks learn, a class-conditional model whose only conditioning is the mean (the thesis' future
work, "Conclusion and Perspectives"). Model selection stays on the label's own validation volumes.

Not a test: it reads the finished ``preprocess`` and ``split`` outputs.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import tempfile
from pathlib import Path

import numpy as np
import torch
import yaml


from benchmarks.studies.sample_variance_regions import brain_regions  # noqa: E402
from medaug.audit.diversity import variance_share  # noqa: E402
from medaug.audit.reconstruction import reconstruct  # noqa: E402
from medaug.models.checkpoint import load_model  # noqa: E402
from medaug.models.decode import decoded_batches  # noqa: E402
import medaug.train.stage as train_stage  # noqa: E402
from medaug.train.ablation import networks_zeroed_elbo  # noqa: E402
from medaug.train.stage import run  # noqa: E402
from medaug.train.trainer import evaluate_elbo  # noqa: E402
from medaug.volumes import load_label_volumes  # noqa: E402


def override(section: dict, assignment: str) -> None:
    """Set ``section[a][b][c]`` from ``"a.b.c=value"``, the value read as YAML (1e-4 as a float)."""
    key, value = assignment.split("=", 1)
    *path, last = key.split(".")
    target = section
    for name in path:
        target = target[name]
    parsed = yaml.safe_load(value)
    if isinstance(parsed, str):  # YAML 1.1 reads 1e-4 (no dot) as a string
        try:
            parsed = float(parsed)
        except ValueError:
            pass
    target[last] = parsed


def prior_and_reconstruction_shares(model, real: np.ndarray, brain: np.ndarray, n: int = 200, seed: int = 0) -> dict[str, float]:
    """In-brain voxelwise variance of ``n`` decoded prior samples and of the reconstructions of
    ``real`` (N, D, H, W), as a share of the real volumes' (:func:`medaug.audit.diversity.variance_share`)."""
    codes = torch.randn(n, model.latent_size, generator=torch.Generator().manual_seed(seed))
    prior = np.concatenate(list(decoded_batches(model, codes, 25)))
    return {"prior": variance_share(prior, real, brain), "reconstruction": variance_share(reconstruct(model, real, 25), real, brain)}


@contextlib.contextmanager
def pooled_label_training():
    """Within the block, :func:`medaug.train.stage.run` trains on the label's volumes plus the other
    labels' volumes shifted onto the label's mean (needs ``linear_path_components: shared``, which
    reads the other labels' volumes)."""
    train_model, other_volumes, seen = train_stage.train_model, train_stage._other_labels_volumes, {}

    def remember_others(*args, **kwargs):
        seen["others"] = other_volumes(*args, **kwargs)
        return seen["others"]

    def train_pooled(model, train, val, config, *args, **kwargs):
        if not seen.get("others"):
            raise ValueError("--pool-labels needs train_vae.linear_path_components: shared (it reads the other labels' volumes)")
        mean = train.mean(0, keepdim=True)
        shifted = [other - other.mean(0, keepdim=True) + mean for other in seen.get("others", ())]
        return train_model(model, torch.cat([train, *shifted]), val, config, *args, **kwargs)

    train_stage.train_model, train_stage._other_labels_volumes = train_pooled, remember_others
    try:
        yield
    finally:
        train_stage.train_model, train_stage._other_labels_volumes = train_model, other_volumes


def validation_curve_summary(curve: Path, start: float) -> str:
    """The validation bound after epoch 1 and at its best epoch, as differences to the start's (nats)."""
    import pandas as pd

    values = pd.read_csv(curve, sep="\t")["val_elbo"]
    return (f"validation bound vs start: epoch 1 {values.iloc[0] - start:+.1f}, best {values.max() - start:+.1f} "
            f"(epoch {int(values.idxmax()) + 1}), last {values.iloc[-1] - start:+.1f} nats")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--labels", nargs="+", default=["CN", "AD"])
    parser.add_argument("--set", action="append", default=[], help="train_vae key=value (dotted keys)")
    parser.add_argument("--pool-labels", action="store_true", help="networks trained on every label's volumes")
    parser.add_argument("--test-split", default="test", help="split of untouched volumes for the kept-vs-start bound")
    args = parser.parse_args()
    params = yaml.safe_load(Path(args.params).read_text())
    train_params = copy.deepcopy(params["train_vae"])
    for assignment in args.set:
        override(train_params, assignment)
    train_params["training"]["progress"] = False
    regions = brain_regions(params["preprocess"])
    brain = regions["interior"] | regions["edge"]
    with tempfile.TemporaryDirectory() as tmp:
        train_params.update(out_dir=f"{tmp}/models", metrics_dir=f"{tmp}/metrics", state_dir=f"{tmp}/state")
        for label in args.labels:
            with pooled_label_training() if args.pool_labels else contextlib.nullcontext():
                metrics = run(train_params, label)
            model = load_model(Path(tmp) / "models" / label / "model")
            model.eval()
            splits = Path(train_params["splits_dir"]) / f"{train_params['train_split']}.tsv"
            real = load_label_volumes(train_params["stack"], splits, label)[0][:, 0].numpy()
            shares = prior_and_reconstruction_shares(model, real, brain)
            print(f"{label}: latent {metrics['latent_size']}  chosen {metrics['chosen_settings']}")
            print(f"  bounds {metrics['validation_bounds']}  kept epoch {metrics['best_epoch']} of {metrics['epochs_run']}")
            curve = Path(tmp) / "models" / label / "training_curve.tsv"
            print("  " + validation_curve_summary(curve, metrics["validation_bounds"]["start"]))
            print(f"  in-brain variance share: prior {shares['prior']:.2f}, reconstructions {shares['reconstruction']:.2f}"
                  f"  |z| {metrics['diagnostics'].get('latent_mean_norm', float('nan')):.2f}", flush=True)
            test_table = Path(train_params["splits_dir"]) / f"{args.test_split}.tsv"
            test = load_label_volumes(train_params["stack"], test_table, label)[0]
            batch, seed = int(train_params["training"]["eval_batch_size"]), 7
            kept, start = evaluate_elbo(model, test, batch, seed=seed), networks_zeroed_elbo(model, test, batch, seed)
            print(f"  {args.test_split} split ({test.shape[0]} volumes): kept {kept:.2f}, start (networks zeroed) "
                  f"{start:.2f}, kept - start {kept - start:+.2f} nats", flush=True)


if __name__ == "__main__":
    main()
