"""Synthetic-data audit: do the generated volumes copy training patients, how varied and how
realistic are they?

- :mod:`memorisation`: the brain mask and the Gaussian windows of local statistics; nearest-training-neighbour L2 and SSIM inside it, for
  synthetic volumes and for held-out real volumes; near-copies flagged by thresholds; the
  blur-matched test against the model's reconstructions of held-out volumes
  (:mod:`reconstruction` makes them).
- :mod:`diversity`: mean pairwise MS-SSIM within a set, in the brain mask (the acceptance bar,
  against the real held-out volumes) and over the whole volume (MONAI's metric), mean pairwise RMS
  difference over the same pairs, and the share of the real in-mask voxelwise variance a set holds.
- :mod:`reference`: rank-d PCA reconstructions of the real training volumes, the diversity a
  d-dimensional linear model of the real data reaches (d = the generator's latent size); information only.
- :mod:`fidelity`: Frechet distance and k-NN precision / recall at equal set sizes, with a
  real-vs-real baseline, in the feature space of the AD-vs-CN classifier trained on real data
  (not an ImageNet / MedicalNet FID), GAN-train / GAN-test.
- :mod:`regions`: demo only: dark-voxel fractions in the demo generator's medial temporal lobe and
  ventricle regions.
- :mod:`checks`: pass / fail of each synthetic set against ``audit.criteria`` (diversity vs the real
  held-out volumes, precision / recall, near-copies and the blur-matched test); :mod:`summary`: the
  summary tables and the metrics.
- :mod:`plots`: figures (the per-label montage of random volumes is :func:`medaug.figures.set_montage`);
  :mod:`files`: the names of what the stage writes; :mod:`stage`: the whole stage.

The report renders these results (:mod:`medaug.report.audit_section`); nothing here renders markdown.
"""

from medaug._exports import lazy_exports

_EXPORTS = {  # defining module (relative) -> its public names
    "checks": ["acceptance_checks"],
    "diversity": [
        "masked_ms_ssim", "masked_variance_sum", "mean_pairwise_ms_ssim", "pairwise_masked_ms_ssim",
        "pairwise_rms", "sample_pairs", "set_diversity", "variance_share"
    ],
    "fidelity": [
        "equal_size_draws", "equal_size_precision_recall", "FEATURE_SPACE_NOTE", "frechet_distance",
        "penultimate_features", "precision_recall"
    ],
    "memorisation": [
        "brain_mask", "masked_rms_distances", "masked_ssim", "memorisation_summary",
        "nearest_distances", "nearest_neighbours", "reconstruction_matched_test"
    ],
    "reference": ["pca_reconstruction", "PCAReconstruction", "reference_latent_size"],
    "regions": ["dark_fraction", "gaussian_region_weight", "grid_coordinates", "mean_intensity"],
    "summary": ["checks_block"],
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
