"""The audit's checks on planted sets: each check fails on a bad set built to fail it, and every
check passes on a fresh draw of real-like volumes from the training set's own population.

Training (40), held-out (30) and the "real-like" set (40) are three draws of one
:class:`~tests.audit._shared.SmoothCohort`. The planted bad sets, 40 volumes each:

- collapsed: one real-like volume with tiny noise, 40 times;
- blurred copies: Gaussian-smoothed training volumes (a generator that decodes its training codes);
- PPCA prior: z ~ N(0, I) decoded by a rank-1 probabilistic PCA fitted to the training set
  (:func:`medaug.models.ppca.fit_ppca`), the linear start of the project's VAEs at a latent size
  too small for the cohort. (The toy cohort has few independent blobs: rank 3 already holds about
  70 % of its dissimilarity and passes. On the demo, PPCA prior samples hold a share of the real
  held-out in-mask dissimilarity of 0.06 / 0.16 / 0.32 / 0.49 / 0.77 at d = 2 / 5 / 10 / 20 / 50,
  close to their variance shares, so the bar of 0.6 fails every d up to 20.)

Each set is audited the way the stage audits a sampler, against the reconstructions its own
generator makes of the held-out volumes: blurred held-out volumes for the blurring generator, PPCA
posterior-mean reconstructions for the PPCA (and the collapsed set), the volumes themselves for the
real-like set (a perfect generator reconstructs exactly). The feature space of precision / recall
is a fixed 4x4x4 average pooling, a texture-insensitive stand-in for the classifier's features.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medaug.audit import (
    acceptance_checks,
    brain_mask,
    equal_size_draws,
    equal_size_precision_recall,
    memorisation_summary,
    nearest_distances,
    nearest_neighbours,
    reconstruction_matched_test,
    set_diversity,
    variance_share,
)
from medaug.models.ppca import fit_ppca
from tests.audit._shared import CRITERIA, SMALL_MS_SSIM, SmoothCohort, gaussian_smoothed

NEAR_COPY = {"ssim_min": 0.99, "l2_max": 0.005}
PLANTED_CRITERIA = CRITERIA
"""The criteria of the demo (params.yaml): real-like draws hold about 0.98 of the held-out set's
dissimilarity, the rank-1 PPCA prior and the collapsed set far less."""
QUANTILE, K, DRAWS, MAX_PAIRS, SEED, BLUR_SIGMA = 0.05, 3, 20, 200, 0, 0.7


def pooled_features(volumes: np.ndarray) -> np.ndarray:
    """(n, 16, 16, 16) -> (n, 64): 4x4x4 block means."""
    tensor = torch.from_numpy(np.ascontiguousarray(volumes, np.float32))[:, None]
    return torch.nn.functional.avg_pool3d(tensor, 4).reshape(len(volumes), -1).double().numpy()


class PPCAGenerator:
    """Rank-d PPCA of the training set: prior samples and posterior-mean reconstructions, in [0, 1]."""

    def __init__(self, train: np.ndarray, latent_size: int, noise_std: float):
        self.fit = fit_ppca(torch.from_numpy(train).double(), latent_size, noise_std)
        self.shape = train.shape[1:]

    def _decode(self, z: torch.Tensor) -> np.ndarray:
        volumes = (self.fit.mean + z @ self.fit.decoder_weight).reshape(len(z), *self.shape)
        return volumes.clamp(0, 1).float().numpy()

    def sample(self, n: int, seed: int) -> np.ndarray:
        z = torch.from_numpy(np.random.default_rng(seed).standard_normal((n, len(self.fit.eigenvalues))))
        return self._decode(z)

    def reconstruct(self, volumes: np.ndarray) -> np.ndarray:
        centred = torch.from_numpy(volumes).double().reshape(len(volumes), -1) - self.fit.mean
        return self._decode(centred @ self.fit.encoder_weight.T)


def audit_set(train, held, candidate, reconstructions, mask) -> dict:
    """The stage's checks for one synthetic set (memorisation, diversity, fidelity), with context."""
    diversity = set_diversity(candidate, MAX_PAIRS, SEED, mask=mask, **SMALL_MS_SSIM)
    real_diversity = set_diversity(held, MAX_PAIRS, SEED, mask=mask, **SMALL_MS_SSIM)
    m, draws = equal_size_draws(len(held), {"synthetic": len(candidate)}, DRAWS, SEED)
    scores = equal_size_precision_recall(pooled_features(held), {"synthetic": pooled_features(candidate)}, K, draws)
    nn = nearest_neighbours(candidate, train, mask, n_candidates=3)
    held_nn = nearest_neighbours(held, train, mask, n_candidates=3)
    copies = memorisation_summary(nn, held_nn, **NEAR_COPY)["n_near_copies"]
    blur_test = reconstruction_matched_test(nn.l2, nearest_distances(reconstructions, train, mask), QUANTILE)
    checks = acceptance_checks(diversity["ms_ssim_mask_mean"], real_diversity["ms_ssim_mask_mean"],
                               scores["synthetic"]["precision"], scores["synthetic"]["recall"], copies,
                               blur_test["share_closer_than_reconstructions"], PLANTED_CRITERIA)
    return {**checks, "variance_share": variance_share(candidate, train, mask),
            "variance_share_real": variance_share(held, train, mask), "real_halves": scores["real"], "set_size": m}


@pytest.fixture(scope="module")
def audited() -> dict[str, dict]:
    torch.set_num_threads(1)
    cohort = SmoothCohort()
    train, held, real_like = cohort.draw(40, seed=1), cohort.draw(30, seed=2), cohort.draw(40, seed=3)
    mask = brain_mask(train, 0.3)
    ppca = PPCAGenerator(train, latent_size=1, noise_std=0.05)
    noise = 0.005 * np.random.default_rng(4).standard_normal((40, *train.shape[1:]))
    sets = {
        "real-like": (real_like, held),
        "collapsed": (np.clip(real_like[:1] + noise, 0, 1).astype(np.float32), ppca.reconstruct(held)),
        "blurred copies": (gaussian_smoothed(train, BLUR_SIGMA), gaussian_smoothed(held, BLUR_SIGMA)),
        "PPCA prior": (ppca.sample(40, seed=5), ppca.reconstruct(held)),
    }
    return {name: audit_set(train, held, candidate, reconstructions, mask)
            for name, (candidate, reconstructions) in sets.items()}


def test_real_like_volumes_pass_every_check(audited):
    result = audited["real-like"]
    assert result["diversity_ok"] and result["fidelity_ok"] and result["memorisation_ok"] and result["passed"]
    assert result["share_closer_than_reconstructions"] <= 0.1        # about the quantile, 0.05
    assert 0.7 < result["variance_share"] < 1.4 and 0.7 < result["variance_share_real"] < 1.4
    real = result["real_halves"]                                         # real-vs-real at the same sizes
    assert result["set_size"] == 15 and abs(result["recall"] - real["recall"]) < 0.15


def test_collapsed_set_fails_diversity_and_recall(audited):
    result = audited["collapsed"]
    assert result["diversity_ok"] is False and result["ms_ssim"] > 0.99
    assert result["fidelity_ok"] is False and result["recall"] < 0.1
    assert result["variance_share"] < 0.01 and result["passed"] is False


def test_blurred_copies_fail_the_blur_matched_memorisation_test(audited):
    result = audited["blurred copies"]
    assert result["reconstruction_test_ok"] is False and result["share_closer_than_reconstructions"] > 0.8
    assert result["memorisation_ok"] is False and result["passed"] is False


def test_ppca_prior_samples_fail_diversity(audited):
    result = audited["PPCA prior"]
    assert result["diversity_ok"] is False and result["ms_ssim"] > result["ms_ssim_limit"]
    assert result["variance_share"] < 0.75 and result["passed"] is False


def test_collapsed_precision_is_inflated_at_unequal_sizes_only():
    """200 collapsed features against 38 real ones (the demo's sizes) score a high precision;
    at equal sizes the same set scores what a single point deserves."""
    from medaug.audit import precision_recall

    rng = np.random.default_rng(0)
    real = rng.standard_normal((38, 8))
    collapsed = real.mean(0) + 1e-3 * rng.standard_normal((200, 8))
    unequal = precision_recall(real, collapsed, k=3)
    m, draws = equal_size_draws(len(real), {"collapsed": len(collapsed)}, 20, seed=0)
    equal = equal_size_precision_recall(real, {"collapsed": collapsed}, 3, draws)
    assert unequal["precision"] == 1.0 and unequal["recall"] < 0.1
    assert m == 19 and equal["collapsed"]["recall"] < 0.15 and equal["real"]["recall"] > 0.5
