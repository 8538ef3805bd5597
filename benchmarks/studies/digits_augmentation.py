"""Data augmentation with one RHVAE per class on scikit-learn's digits (Chadebec, PhD thesis, ch. 1,
sec. 1.4, tables 1.3 and 1.10-1.11; the classifiers of fig. 1.5).

Not a test: run it by hand and report the figures.

    OMP_NUM_THREADS=1 python -m benchmarks.studies.digits_augmentation            # the run of results/digits_augmentation.md
    OMP_NUM_THREADS=1 python -m benchmarks.studies.digits_augmentation --seeds 1 --settings thesis --max-epochs 20 --hmc-steps 5 --no-write

Protocol (one seed = one repetition, everything re-drawn):

1. Data: ``sklearn.datasets.load_digits`` (1797 8x8 images, 16 grey levels, no download), scaled
   to [0, 1] by /16. A small real training set of ``REAL_PER_CLASS`` = 50 images per class drawn at
   random (500 images, the size of the thesis' reduced MNIST, sec. 1.3.3); every other image
   (1297) is the test set. The thesis splits its 500 images 80/20 into a training set and a
   validation set for the DenseNet's early stopping; the classifiers here have no early stopping,
   their settings are chosen by cross-validation on the 500 real images instead, so all 500 train.
2. One generative model per class on that class's 50 real images (sec. 1.4.2: "trained
   individually on each class"), then 1000 synthetic images per class by HMC in the latent space
   (:func:`medaug.sampling.factory.build_latent_sampler`, ``rhvae_hmc``), decoded to the mean
   E[x|z]; the first 200 of them (independent chains) are the 200-per-class set.
3. Classifiers (fig. 1.5 uses an MLP and an SVM among others; their settings here are tuned by
   ``CV_FOLDS``-fold cross-validation on the seed's 500 real images, then kept fixed for every
   training set of that seed): an sklearn ``MLPClassifier`` and an RBF ``SVC``. Each is trained on
   real only, real + 200 / 1000 synthetic per class, and synthetic only (200 / 1000 per class,
   the thesis' "GAN-train", table 1.2), and tested on the held-out real images.
4. Report per setting, classifier and training set: mean test accuracy over the seeds, and the
   PAIRED difference to real only (same seed, split, classifier settings and classifier seed) with
   a 95 % Student t interval, mean +- t_{0.975, n-1} sd / sqrt(n).

Two settings (``SETTINGS``):

* ``thesis``: table 1.10's network (MLP D-400-d for the encoder, decoder and metric network),
  Bernoulli likelihood (sigmoid decoder, cross-entropy), table 1.11's RHVAE parameters for reduced
  MNIST (d = 2, K = 3, eps = 1e-2, T = 0.8, lambda = 1e-3, sqrt(beta0) = 0.3), app. 1.8.3's
  training (Adam, lr 1e-3, single batch, stop when the ELBO has not improved for 20 epochs) and
  app. 1.8.2's sampler (HMC on sqrt(det G^-1), l in [10, 15] leapfrog steps of gamma in
  [0.01, 0.05], chains from random centroids, restricted to |z| <= 2 max_i |c_i|).
* ``demo``: medaug's demo settings (``params.yaml``, ``train_vae`` and ``sample``): Gaussian
  likelihood with sd 0.1, decoder = training mean + residual started from the probabilistic PCA
  (``residual_from_mean``, ``linear_path``), d = 10, eps = 1e-4, T = 1.5, lambda = 1e-2, batches
  of 8, 35 warm-up epochs on the VAE bound, patience 6; the sampler adapts its step during burn-in
  and keeps chains within 2 T of a training code. Same D-400-d network as ``thesis`` (the demo's
  conv network is sized for volumes).

Cost caps (flags, reported in the output): the thesis trains with no epoch cap and samples with
300 MCMC steps (ADNI, app. 1.8.2); ``--max-epochs`` and ``--hmc-steps`` bound both so that the
whole run fits in about 15 minutes of one core.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy import stats  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

from benchmarks.common import REPO_ROOT as ROOT  # noqa: E402

from medaug.models.decode import decoded_batches  # noqa: E402
from medaug.models.networks import NetworkConfig  # noqa: E402
from medaug.models.rhvae import RHVAE, RHVAEConfig  # noqa: E402
from medaug.sampling.factory import build_latent_sampler, draw_latents  # noqa: E402
from medaug.train.trainer import TrainingConfig, train_model  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "digits_augmentation.md"

REAL_PER_CLASS = 50  # the thesis' reduced MNIST: 500 images, balanced (ch. 1, sec. 1.3.3)
N_SYNTHETIC = (200, 1000)  # per class (ch. 1, sec. 1.4.2, table 1.3)
CV_FOLDS = 3

#: Settings of the generative models. Keys: ``network`` (NetworkConfig), ``model`` (RHVAEConfig),
#: ``training`` (TrainingConfig; ``batch_size: None`` = the whole class, one batch), ``sampler``
#: (rhvae_hmc options).
SETTINGS: dict[str, dict] = {
    "thesis": {
        # ch. 1, table 1.10: mu, Sigma: (D, 400, ReLU) then (400, d); pi: (d, 400, ReLU) (400, D, sigmoid);
        # L_psi: (D, 400, ReLU) then (400, d) and (400, d(d-1)/2)
        "network": {"architecture": "mlp", "hidden_sizes": (400,), "mlp_shared_layers": 1, "metric_hidden_size": 400,
                    "latent_size": 2, "output_activation": "sigmoid"},
        # ch. 1, table 1.11, reduced MNIST (bal.): d = 2, K = 3, eps = 1e-2, T = 0.8, lambda = 1e-3, sqrt(beta0) = 0.3
        "model": {"likelihood": "bernoulli", "n_leapfrog": 3, "leapfrog_step_size": 1e-2, "metric_temperature": 0.8,
                  "metric_lambda": 1e-3, "sqrt_beta_zero": 0.3},
        # ch. 1, app. 1.8.3: Adam, lr 1e-3, single batch, until the ELBO does not improve for 20 epochs (no cap)
        "training": {"learning_rate": 1e-3, "batch_size": None, "patience": 20, "max_epochs": 10_000, "warmup_epochs": 0},
        # ch. 1, app. 1.8.2: gamma in [0.01, 0.05], l in [10, 15]; 300 MCMC steps (ADNI); ball 2 max |c_i|
        "sampler": {"n_steps": 300, "n_leapfrog": 10, "step_size": 0.03, "radius_factor": 2.0, "adapt_steps": 0},
    },
    "demo": {
        "network": {"architecture": "mlp", "hidden_sizes": (400,), "mlp_shared_layers": 1, "metric_hidden_size": 400,
                    "latent_size": 10, "output_activation": "identity"},
        # params.yaml train_vae.rhvae
        "model": {"likelihood": "gaussian", "observation_std": 0.1, "residual_from_mean": True, "linear_path": True,
                  "n_leapfrog": 3, "leapfrog_step_size": 1e-4, "metric_temperature": 1.5, "metric_lambda": 1e-2,
                  "sqrt_beta_zero": 0.3},
        # params.yaml train_vae.training
        "training": {"learning_rate": 1e-3, "batch_size": 8, "patience": 6, "max_epochs": 70, "warmup_epochs": 35},
        # params.yaml sample.samplers.rhvae_hmc
        "sampler": {"n_steps": 300, "n_leapfrog": 15, "step_size": 0.03, "radius_factor": 2.0, "adapt_steps": 100,
                    "target_acceptance": 0.65, "support_temperatures": 2.0},
    },
}

#: Classifier grids, searched by CV on the real training set of each seed.
CLASSIFIERS = {
    "MLP": (lambda seed, **p: MLPClassifier(max_iter=200, random_state=seed, **p),
            {"hidden_layer_sizes": [(256,)], "alpha": [1e-3, 1e-1, 1.0]}),
    "SVC": (lambda seed, **p: SVC(kernel="rbf", **p),
            {"C": [1.0, 10.0, 100.0], "gamma": ["scale", 0.01, 0.05]}),
}

TRAINING_SETS = ("real", "real+200", "real+1000", "synthetic 200", "synthetic 1000")


def load_unit_digits() -> tuple[np.ndarray, np.ndarray]:
    """Images (1797, 8, 8) float32 in [0, 1] (grey levels / 16) and labels (1797,)."""
    digits = load_digits()
    return (digits.images / 16.0).astype(np.float32), digits.target.astype(np.int64)


def split_real(labels: np.ndarray, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of ``per_class`` random images of every class (train) and of all the others (test)."""
    rng = np.random.default_rng(seed)
    train = np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in np.unique(labels)])
    test = np.setdiff1d(np.arange(len(labels)), train)
    return np.sort(train), test


def paired_interval(differences: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student t interval of paired differences (n,): (mean, low, high); NaN width for n = 1."""
    n = len(differences)
    mean = float(np.mean(differences))
    if n < 2:
        return mean, math.nan, math.nan
    half = stats.t.ppf(0.5 + level / 2, n - 1) * float(np.std(differences, ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half


def train_generator(setting: dict, images: np.ndarray, seed: int, max_epochs: int | None) -> tuple[RHVAE, dict]:
    """One RHVAE on one class's images (n, 8, 8) with medaug's trainer (no validation set: the
    training ELBO is monitored, as in the thesis). Returns the model (metric fitted) and figures."""
    torch.manual_seed(seed)
    network = NetworkConfig(spatial_dims=2, in_channels=1, spatial_shape=images.shape[1:], **setting["network"])
    model = RHVAE(RHVAEConfig(network=network, **setting["model"]))
    training = dict(setting["training"])
    training["batch_size"] = training["batch_size"] or len(images)
    if max_epochs is not None:
        training["max_epochs"] = min(training["max_epochs"], max_epochs)
        training["warmup_epochs"] = min(training["warmup_epochs"], training["max_epochs"] // 2)
    config = TrainingConfig(seed=seed, device="cpu", progress=False, checkpoint_every_s=1e9, nan_policy="restart", **training)
    data = torch.from_numpy(images[:, None])
    with tempfile.TemporaryDirectory() as directory:
        result = train_model(model, data, None, config, directory)
    return model.eval(), {"epochs": result.epochs_run, "stop": result.stop_reason, "elbo": result.best_elbo}


def synthesize(model: RHVAE, sampler_options: dict, n: int, seed: int) -> tuple[np.ndarray, float]:
    """n images (n, 64) from HMC latent codes decoded to E[x|z]; and the chains' mean acceptance."""
    sampler = build_latent_sampler("rhvae_hmc", model, sampler_options, num_threads=1)
    draw = draw_latents(sampler, n, torch.Generator().manual_seed(seed))
    images = np.concatenate(list(decoded_batches(model, draw.latents, batch_size=n)))
    return images.reshape(n, -1), float(draw.mean_acceptance or 0.0)


def tune_classifiers(x: np.ndarray, y: np.ndarray, seed: int) -> dict[str, dict]:
    """Best grid settings of every classifier by stratified CV on the real training set."""
    folds = StratifiedKFold(CV_FOLDS, shuffle=True, random_state=seed)
    best = {}
    for name, (build, grid) in CLASSIFIERS.items():
        search = GridSearchCV(build(seed), grid, cv=folds, n_jobs=1).fit(x, y)
        best[name] = search.best_params_
    return best


def accuracy(name: str, params: dict, seed: int, x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray) -> float:
    build, _ = CLASSIFIERS[name]
    return float(build(seed, **params).fit(x, y).score(x_test, y_test))


def run(args: argparse.Namespace) -> tuple[dict, dict]:
    images, labels = load_unit_digits()
    flat = images.reshape(len(images), -1)
    classes = np.unique(labels)
    # scores[(setting, classifier, training set)] = [accuracy per seed]; "real" is shared by both settings
    scores: dict[tuple[str, str, str], list[float]] = {}
    info: dict[str, dict] = {name: {"epochs": [], "stops": [], "acceptance": [], "train_s": 0.0, "sample_s": 0.0}
                             for name in args.settings}
    info["_tuned"] = []
    for seed in range(args.seeds):
        train, test = split_real(labels, REAL_PER_CLASS, seed)
        x_real, y_real, x_test, y_test = flat[train], labels[train], flat[test], labels[test]
        tuned = tune_classifiers(x_real, y_real, seed)
        info["_tuned"].append(tuned)
        for clf in CLASSIFIERS:
            scores.setdefault(("", clf, "real"), []).append(accuracy(clf, tuned[clf], seed, x_real, y_real, x_test, y_test))
        for name in args.settings:
            setting = {**SETTINGS[name], "sampler": {**SETTINGS[name]["sampler"]}}
            if args.hmc_steps is not None:
                setting["sampler"]["n_steps"] = min(setting["sampler"]["n_steps"], args.hmc_steps)
                setting["sampler"]["adapt_steps"] = min(setting["sampler"]["adapt_steps"], args.hmc_steps // 2)
            synthetic = {}
            for c in classes:
                started = time.process_time()
                model, figures = train_generator(setting, images[train][y_real == c], 1000 * seed + int(c), args.max_epochs)
                info[name]["train_s"] += time.process_time() - started
                started = time.process_time()
                synthetic[c], acceptance = synthesize(model, setting["sampler"], max(N_SYNTHETIC), 1000 * seed + int(c))
                info[name]["sample_s"] += time.process_time() - started
                info[name]["epochs"].append(figures["epochs"])
                info[name]["stops"].append(figures["stop"])
                info[name]["acceptance"].append(acceptance)
            for n in N_SYNTHETIC:
                x_syn = np.concatenate([synthetic[c][:n] for c in classes])
                y_syn = np.repeat(classes, n)
                for clf in CLASSIFIERS:
                    augmented = accuracy(clf, tuned[clf], seed, np.concatenate([x_real, x_syn]), np.concatenate([y_real, y_syn]),
                                         x_test, y_test)
                    alone = accuracy(clf, tuned[clf], seed, x_syn, y_syn, x_test, y_test)
                    scores.setdefault((name, clf, f"real+{n}"), []).append(augmented)
                    scores.setdefault((name, clf, f"synthetic {n}"), []).append(alone)
            print(f"seed {seed} {name}: " + ", ".join(f"{clf} {ts} {scores[(name, clf, ts)][-1]:.3f}"
                                                      for clf in CLASSIFIERS for ts in TRAINING_SETS[1:]), flush=True)
        print(f"seed {seed} real: " + ", ".join(f"{clf} {scores[('', clf, 'real')][-1]:.3f}" for clf in CLASSIFIERS), flush=True)
    return scores, info


def markdown(scores: dict, info: dict, args: argparse.Namespace, wall_s: float, cpu_s: float, command: str) -> str:
    n_test = len(load_unit_digits()[1]) - 10 * REAL_PER_CLASS
    lines = [
        "# Data augmentation on scikit-learn's digits: one RHVAE per class",
        "",
        "Chadebec, PhD thesis, ch. 1, sec. 1.4 (protocol of table 1.3, classifiers of fig. 1.5), networks of "
        "table 1.10, RHVAE parameters of table 1.11. Script: `python -m benchmarks.studies.digits_augmentation` (its docstring "
        "gives the protocol and every setting).",
        "",
        f"Command: `{command}`",
        "",
        f"- Data: 8x8 digits / 16 in [0, 1]; {REAL_PER_CLASS} real training images per class (500), the other "
        f"{n_test} images are the test set; {args.seeds} seeds (each seed re-draws the split, the generative "
        "models, the synthetic images and the classifiers' seeds).",
        f"- Classifiers: sklearn MLPClassifier (256 hidden units, 200 Adam epochs, alpha by CV) and RBF SVC "
        f"(C, gamma by CV), tuned by {CV_FOLDS}-fold CV on the real training set of each seed, then fixed.",
        "- Paired difference: accuracy(training set) - accuracy(real only), same seed, split, classifier settings "
        "and classifier seed; mean and 95 % Student t interval over the seeds, in accuracy points.",
        f"- Run: {wall_s / 60:.1f} min wall, {cpu_s / 60:.1f} min CPU of this process, torch and BLAS on 1 thread "
        "(the machine was shared with other jobs).",
        "",
    ]
    for name in args.settings:
        setting = SETTINGS[name]
        epochs = np.array(info[name]["epochs"])
        sampler = dict(setting["sampler"])
        if args.hmc_steps is not None:
            sampler["n_steps"] = min(sampler["n_steps"], args.hmc_steps)
            sampler["adapt_steps"] = min(sampler["adapt_steps"], args.hmc_steps // 2)
        cap = setting["training"]["max_epochs"] if args.max_epochs is None else min(setting["training"]["max_epochs"], args.max_epochs)
        stops = info[name]["stops"]
        lines += [
            f"## Setting `{name}`",
            "",
            f"- network: {setting['network']}",
            f"- model: {setting['model']}",
            f"- training: {setting['training']} with max_epochs capped at {cap}: epochs run per model "
            f"{epochs.min()}-{epochs.max()} (median {int(np.median(epochs))}); stopped by patience in "
            f"{sum(s == 'patience' for s in stops)} of {len(stops)} models",
            f"- sampler (rhvae_hmc) as run: {sampler}; mean acceptance {np.mean(info[name]['acceptance']):.2f}",
            f"- CPU time: training {info[name]['train_s']:.0f} s, sampling {info[name]['sample_s']:.0f} s "
            f"({len(stops)} models)",
            "",
            "| classifier | training set | accuracy (mean +- sd, %) | paired difference to real (95 % CI, points) |",
            "|---|---|---|---|",
        ]
        for clf in CLASSIFIERS:
            real = np.array(scores[("", clf, "real")])
            lines.append(f"| {clf} | real ({10 * REAL_PER_CLASS}) | {100 * real.mean():.1f} +- {100 * real.std(ddof=1) if len(real) > 1 else math.nan:.1f} | - |")
            for training_set in TRAINING_SETS[1:]:
                values = np.array(scores[(name, clf, training_set)])
                mean, low, high = paired_interval(100 * (values - real))
                sd = 100 * values.std(ddof=1) if len(values) > 1 else math.nan
                lines.append(f"| {clf} | {training_set} | {100 * values.mean():.1f} +- {sd:.1f} | "
                             f"{mean:+.1f} [{low:+.1f}, {high:+.1f}] |")
        lines.append("")
    tuned = info["_tuned"]
    lines += ["Classifier settings chosen by CV, per seed: " + "; ".join(
        f"seed {i}: MLP alpha {t['MLP']['alpha']}, SVC C {t['SVC']['C']} gamma {t['SVC']['gamma']}" for i, t in enumerate(tuned)), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5, help="repetitions (default 5, as the thesis' five runs)")
    parser.add_argument("--settings", nargs="+", choices=sorted(SETTINGS), default=["thesis", "demo"])
    parser.add_argument("--max-epochs", type=int, default=120,
                        help="cap on each model's epochs (thesis: none, patience 20 alone; default 120 to fit ~15 min)")
    parser.add_argument("--hmc-steps", type=int, default=50,
                        help="cap on MCMC steps per chain, burn-in capped at half of it (thesis ADNI: 300; default 50)")
    parser.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    command = "OMP_NUM_THREADS=1 python -m benchmarks.studies.digits_augmentation " + " ".join(argv if argv is not None else sys.argv[1:])
    wall, cpu = time.perf_counter(), time.process_time()
    scores, info = run(args)
    text = markdown(scores, info, args, time.perf_counter() - wall, time.process_time() - cpu, command.strip())
    print(text)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text)


if __name__ == "__main__":
    main()
