"""Acceptance checks of one synthetic set (one sampler, one label), with thresholds from params.

A synthetic set passes when it is

- **diverse enough**: its mean pairwise dissimilarity inside the brain mask, 1 - MS-SSIM
  (:func:`medaug.audit.diversity.masked_ms_ssim`), is at least a share
  ``min_dissimilarity_share`` of that of the real held-out volumes of its label, i.e. its MS-SSIM
  is at most 1 - share x (1 - MS-SSIM of the real held-out volumes). A share, not an additive
  margin on MS-SSIM: a decoder outputs mean images E[x|z], without the acquisition noise and
  sub-voxel texture that lower the MS-SSIM of every pair of real volumes. On the demo, the
  model's own reconstructions of the held-out volumes have in-mask MS-SSIM 0.91 against 0.79
  for the volumes themselves, and smoothing both sets equally (Gaussian, 1 voxel) moves them
  to 0.95 / 0.89, while the ratio of dissimilarities stays within a few percent. The share
  parallels the variance-share figure (:func:`medaug.audit.diversity.variance_share`). Collapse
  to one volume gives a dissimilarity near 0 and fails, and so does a generator that spans only a
  low-rank linear model of the training set (the rank-d PCA reconstructions, reported beside it,
  are not the bar: a VAE started from the PPCA of its training set would pass against them by
  construction);
- **realistic and covering**: k-NN precision >= ``min_precision`` and recall >= ``min_recall`` in the
  real classifier's feature space at equal set sizes, averaged over draws and classifier runs
  (:func:`medaug.audit.fidelity.equal_size_precision_recall`). Precision alone is met by a class
  prototype; recall is what a collapsed set lacks;
- **not memorising**: at most ``max_near_copies`` near-copies of a training volume
  (:mod:`medaug.audit.memorisation`), and at most a share ``max_share_closer_than_reconstructions``
  of the synthetic volumes nearer to a training volume than the model's reconstructions of
  held-out real volumes usually are (the blur-matched test,
  :func:`medaug.audit.memorisation.reconstruction_matched_test`): a blurred copy of a training
  volume passes the near-copy thresholds but not this test.

A value that could not be computed (None or NaN) makes its check None ("unknown"), and the set
does not pass.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

CRITERIA = ("min_dissimilarity_share", "min_precision", "min_recall", "max_near_copies", "max_share_closer_than_reconstructions")
"""Keys of the ``audit.criteria`` parameter block."""


def _known(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _check(ok: bool, *values: Any) -> bool | None:
    return bool(ok) if all(_known(v) for v in values) else None


def acceptance_checks(ms_ssim: float | None, ms_ssim_real: float | None, precision: float | None,
                      recall: float | None, near_copies: int | None, share_closer: float | None,
                      criteria: Mapping[str, Any]) -> dict[str, Any]:
    """The checks block of one (sampler, label).

    Args:
        ms_ssim: mean pairwise in-mask MS-SSIM of the synthetic volumes (unitless, in [0, 1]).
        ms_ssim_real: the same for the real held-out volumes of the label (the bar).
        precision, recall: equal-size k-NN precision / recall in the classifier feature space, in [0, 1].
        near_copies: number of synthetic volumes flagged as near-copies.
        share_closer: share of synthetic volumes nearer to a training volume than the
            reconstruction quantile (blur-matched memorisation test), in [0, 1].
        criteria: the ``audit.criteria`` block (keys :data:`CRITERIA`).
    Returns:
        ``{ms_ssim, ms_ssim_real_held_out, ms_ssim_limit, diversity_ok, precision, recall, fidelity_ok,
        near_copies, near_copies_ok, share_closer_than_reconstructions, share_closer_limit,
        reconstruction_test_ok, memorisation_ok, passed}``; each ``*_ok`` is True / False, or None
        when one of its inputs is missing; ``memorisation_ok`` needs both memorisation checks;
        ``passed`` is True only when diversity, fidelity and memorisation are all True.
    """
    missing = [key for key in CRITERIA if key not in criteria]
    if missing:
        raise KeyError(f"audit.criteria lacks {missing}")
    share = float(criteria["min_dissimilarity_share"])
    if not 0.0 < share <= 1.0:
        raise ValueError(f"audit.criteria.min_dissimilarity_share must be in (0, 1], got {share}")
    limit = 1.0 - share * (1.0 - float(ms_ssim_real)) if _known(ms_ssim_real) else None
    diversity_ok = _check(_known(ms_ssim) and _known(limit) and ms_ssim <= limit, ms_ssim, limit)
    fidelity_ok = _check(_known(precision) and _known(recall) and precision >= float(criteria["min_precision"])
                         and recall >= float(criteria["min_recall"]), precision, recall)
    copies_ok = _check(_known(near_copies) and int(near_copies) <= int(criteria["max_near_copies"]), near_copies)
    share_limit = float(criteria["max_share_closer_than_reconstructions"])
    reconstruction_ok = _check(_known(share_closer) and share_closer <= share_limit, share_closer)
    memorisation_ok = (None if copies_ok is None or reconstruction_ok is None
                       else bool(copies_ok and reconstruction_ok))
    if copies_ok is False or reconstruction_ok is False:
        memorisation_ok = False
    return {
        "ms_ssim": ms_ssim, "ms_ssim_real_held_out": ms_ssim_real, "ms_ssim_limit": limit,
        "diversity_ok": diversity_ok,
        "precision": precision, "recall": recall, "fidelity_ok": fidelity_ok,
        "near_copies": int(near_copies) if _known(near_copies) else None, "near_copies_ok": copies_ok,
        "share_closer_than_reconstructions": share_closer, "share_closer_limit": share_limit,
        "reconstruction_test_ok": reconstruction_ok, "memorisation_ok": memorisation_ok,
        "passed": diversity_ok is True and fidelity_ok is True and memorisation_ok is True,
    }
