"""Acceptance checks of one synthetic set (one sampler, one label), with thresholds from params.

A synthetic set passes when it is

- **diverse enough**: its mean pairwise MS-SSIM is at most that of the rank-d PCA
  reconstructions of the real training volumes of its label (:mod:`medaug.audit.reference`) plus
  ``ms_ssim_margin``. Collapse to the class mean gives MS-SSIM near 1 and fails;
- **realistic and covering**: k-NN precision >= ``min_precision`` and recall >= ``min_recall`` in the
  real classifier's feature space (:mod:`medaug.audit.fidelity`; per label, mean over classifier runs).
  Precision alone is met by a class prototype; recall is what a collapsed set lacks;
- **not memorising**: at most ``max_near_copies`` near-copies of a training volume
  (:mod:`medaug.audit.memorisation`).

A value that could not be computed (None or NaN) makes its check None ("unknown"), and the set
does not pass.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

CRITERIA = ("ms_ssim_margin", "min_precision", "min_recall", "max_near_copies")
"""Keys of the ``audit.criteria`` parameter block."""


def _known(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _check(ok: bool, *values: Any) -> bool | None:
    return bool(ok) if all(_known(v) for v in values) else None


def acceptance_checks(ms_ssim: float | None, ms_ssim_reference: float | None, precision: float | None,
                      recall: float | None, near_copies: int | None, criteria: Mapping[str, Any]) -> dict[str, Any]:
    """The checks block of one (sampler, label).

    Args:
        ms_ssim: mean pairwise MS-SSIM of the synthetic volumes (unitless, in [0, 1]).
        ms_ssim_reference: the same for the rank-d PCA reconstructions of the real training volumes.
        precision, recall: k-NN precision / recall in the classifier feature space, in [0, 1].
        near_copies: number of synthetic volumes flagged as near-copies.
        criteria: ``{ms_ssim_margin, min_precision, min_recall, max_near_copies}`` (``audit.criteria``).
    Returns:
        ``{ms_ssim, ms_ssim_pca_reference, ms_ssim_limit, diversity_ok, precision, recall, fidelity_ok,
        near_copies, memorisation_ok, passed}``; each ``*_ok`` is True / False, or None when one of
        its inputs is missing; ``passed`` is True only when all three are True.
    """
    missing = [key for key in CRITERIA if key not in criteria]
    if missing:
        raise KeyError(f"audit.criteria lacks {missing}")
    limit = float(ms_ssim_reference) + float(criteria["ms_ssim_margin"]) if _known(ms_ssim_reference) else None
    diversity_ok = _check(_known(ms_ssim) and _known(limit) and ms_ssim <= limit, ms_ssim, limit)
    fidelity_ok = _check(_known(precision) and _known(recall) and precision >= float(criteria["min_precision"])
                         and recall >= float(criteria["min_recall"]), precision, recall)
    memorisation_ok = _check(_known(near_copies) and int(near_copies) <= int(criteria["max_near_copies"]), near_copies)
    return {
        "ms_ssim": ms_ssim, "ms_ssim_pca_reference": ms_ssim_reference, "ms_ssim_limit": limit,
        "diversity_ok": diversity_ok,
        "precision": precision, "recall": recall, "fidelity_ok": fidelity_ok,
        "near_copies": int(near_copies) if _known(near_copies) else None, "memorisation_ok": memorisation_ok,
        "passed": diversity_ok is True and fidelity_ok is True and memorisation_ok is True,
    }
