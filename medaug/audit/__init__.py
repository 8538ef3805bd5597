"""Synthetic-data audit: do the generated volumes copy training patients, how varied and how
realistic are they?

- :mod:`memorisation`: nearest-training-neighbour L2 and SSIM inside a brain mask, for synthetic
  volumes and for held-out real volumes; near-copies flagged by thresholds.
- :mod:`diversity`: mean pairwise MS-SSIM within a set (MONAI's metric, scales for small volumes)
  and mean pairwise RMS difference over the same pairs.
- :mod:`reference`: rank-d PCA reconstructions of the real training volumes, the diversity a
  d-dimensional linear model of the real data reaches (d = the generator's latent size).
- :mod:`fidelity`: Frechet distance and k-NN precision / recall in the feature space of the AD-vs-CN
  classifier trained on real data (not an ImageNet / MedicalNet FID), GAN-train / GAN-test.
- :mod:`regions`: demo only: dark-voxel fractions in the demo generator's medial temporal lobe and
  ventricle regions.
- :mod:`checks`: pass / fail of each synthetic set against ``audit.criteria`` (diversity vs the PCA
  reference, precision / recall, near-copies); :mod:`summary`: the summary tables and the metrics.
- :mod:`plots`, :mod:`montage`: figures and the per-label montage of random volumes;
  :mod:`files`: the names of what the stage writes; :mod:`run`: the whole stage.

The report renders these results (:mod:`medaug.report.audit_section`); nothing here renders markdown.
"""

from medaug.audit.checks import acceptance_checks
from medaug.audit.diversity import mean_pairwise_ms_ssim, pairwise_rms, sample_pairs, set_diversity
from medaug.audit.fidelity import (
    FEATURE_SPACE_NOTE,
    frechet_distance,
    penultimate_features,
    precision_recall,
)
from medaug.audit.memorisation import (
    brain_mask,
    masked_rms_distances,
    masked_ssim,
    memorisation_summary,
    nearest_neighbours,
)
from medaug.audit.montage import montage_indices, set_montage
from medaug.audit.reference import PCAReconstruction, pca_reconstruction, reference_latent_size
from medaug.audit.regions import dark_fraction, gaussian_region_weight, grid_coordinates, mean_intensity
from medaug.audit.summary import checks_block
from medaug.io import finite_or_none

__all__ = [
    "FEATURE_SPACE_NOTE", "PCAReconstruction", "acceptance_checks", "brain_mask", "checks_block",
    "dark_fraction", "finite_or_none", "frechet_distance", "gaussian_region_weight", "grid_coordinates",
    "masked_rms_distances", "masked_ssim", "mean_intensity", "mean_pairwise_ms_ssim", "memorisation_summary",
    "montage_indices", "nearest_neighbours", "pairwise_rms", "pca_reconstruction", "penultimate_features",
    "precision_recall", "reference_latent_size", "sample_pairs", "set_diversity", "set_montage",
]
