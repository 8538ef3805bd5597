"""Synthetic-data audit: do the generated volumes copy training patients, how varied and how
realistic are they (issue 10)?

- :mod:`memorisation`: nearest-training-neighbour L2 and SSIM inside a brain mask, for synthetic
  volumes and for held-out real volumes; near-copies flagged by thresholds.
- :mod:`diversity`: mean pairwise MS-SSIM within a set (MONAI's metric, scales for small volumes).
- :mod:`fidelity`: Frechet distance and k-NN precision / recall in the feature space of the AD-vs-CN
  classifier trained on real data (not an ImageNet / MedicalNet FID), GAN-train / GAN-test.
- :mod:`regions`: demo only: dark-voxel fractions in the demo generator's medial temporal lobe and
  ventricle regions.
- :mod:`plots`, :mod:`markdown`: figures and the report section (:func:`audit_markdown`).
"""

from medaug.audit.diversity import mean_pairwise_ms_ssim, sample_pairs
from medaug.audit.fidelity import (
    FEATURE_SPACE_NOTE,
    frechet_distance,
    penultimate_features,
    precision_recall,
)
from medaug.audit.markdown import audit_markdown
from medaug.audit.memorisation import (
    brain_mask,
    masked_rms_distances,
    masked_ssim,
    memorisation_summary,
    nearest_neighbours,
)
from medaug.audit.regions import dark_fraction, gaussian_region_weight, grid_coordinates, mean_intensity

__all__ = [
    "FEATURE_SPACE_NOTE", "audit_markdown", "brain_mask", "dark_fraction", "frechet_distance",
    "gaussian_region_weight", "grid_coordinates", "masked_rms_distances", "masked_ssim",
    "mean_intensity", "mean_pairwise_ms_ssim", "memorisation_summary", "nearest_neighbours", "penultimate_features",
    "precision_recall", "sample_pairs",
]
