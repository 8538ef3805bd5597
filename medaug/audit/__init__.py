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

_EXPORTS = {
    "acceptance_checks": "checks",
    "brain_mask": "memorisation",
    "checks_block": "summary",
    "dark_fraction": "regions",
    "equal_size_draws": "fidelity",
    "equal_size_precision_recall": "fidelity",
    "FEATURE_SPACE_NOTE": "fidelity",
    "frechet_distance": "fidelity",
    "gaussian_region_weight": "regions",
    "grid_coordinates": "regions",
    "masked_ms_ssim": "diversity",
    "masked_rms_distances": "memorisation",
    "masked_ssim": "memorisation",
    "masked_variance_sum": "diversity",
    "mean_intensity": "regions",
    "mean_pairwise_ms_ssim": "diversity",
    "memorisation_summary": "memorisation",
    "nearest_distances": "memorisation",
    "nearest_neighbours": "memorisation",
    "pairwise_masked_ms_ssim": "diversity",
    "pairwise_rms": "diversity",
    "pca_reconstruction": "reference",
    "PCAReconstruction": "reference",
    "penultimate_features": "fidelity",
    "precision_recall": "fidelity",
    "reconstruction_matched_test": "memorisation",
    "reference_latent_size": "reference",
    "sample_pairs": "diversity",
    "set_diversity": "diversity",
    "variance_share": "diversity",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
