"""Mattes mutual information of two sampled images, computed in numpy as ITK's v4 metric computes it.

:func:`medaug.preprocess.t1_linear.registration_score` scores a pose about ten times per image
(the pose check's candidates, the retry starts). ``ants.image_similarity`` builds and initialises
a new ITK metric each call (0.1-0.2 s at 3 mm); the same value from numpy takes about 5-20 ms.

The value is ITK's ``MattesMutualInformationImageToImageMetricv4`` with dense sampling (every
voxel of the fixed mask): the fixed image binned by a box kernel, the moving image by a cubic
B-spline Parzen window, both intensity ranges taken inside the fixed mask, two padding bins at
each end. It matches ``ants.image_similarity(..., sampling_strategy="none")`` to float32
precision (``tests/preprocess/test_mattes.py``).
"""

from __future__ import annotations

import numpy as np

SCORE_HISTOGRAM_BINS = 50
"""Bins of the score: ITK's default, the one of the metric ``ants.image_similarity`` creates."""

_PADDING = 2  # bins at each end that no sample is centred in (the B-spline window spills into them)


def cubic_bspline(u: np.ndarray) -> np.ndarray:
    """The centred cubic B-spline kernel at ``u`` (any shape, in bins); zero for ``|u| >= 2``."""
    u = np.abs(np.asarray(u, dtype=np.float64))
    return np.where(u < 1.0, (4.0 - 6.0 * u**2 + 3.0 * u**3) / 6.0, np.where(u < 2.0, (2.0 - u) ** 3 / 6.0, 0.0))


def _bin_terms(values: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """(continuous bin coordinate, central bin index) of ``values`` (N,) with ITK's padded bins."""
    low, high = float(values.min()), float(values.max())
    width = (high - low) / (bins - 2 * _PADDING)
    term = values / width - (low / width - _PADDING)
    return term, np.clip(term.astype(np.int64), _PADDING, bins - _PADDING - 1)


def mattes_mutual_information(fixed_values: np.ndarray, moving_values: np.ndarray,
                              bins: int = SCORE_HISTOGRAM_BINS) -> float:
    """Mutual information (nats, >= 0; higher is better) of paired samples ``fixed_values`` and
    ``moving_values`` (N,), as ITK's Mattes v4 metric (its value with the sign flipped).

    The samples are the fixed image's voxels inside its mask and the moving image resampled there;
    the intensity ranges of the histogram are those of the samples. A constant sample scores 0.
    """
    fixed = np.asarray(fixed_values, dtype=np.float64).ravel()
    moving = np.asarray(moving_values, dtype=np.float64).ravel()
    if np.ptp(fixed) == 0 or np.ptp(moving) == 0:  # e.g. a pose that maps the mask outside the image
        return 0.0
    _, fixed_bin = _bin_terms(fixed, bins)
    moving_term, moving_bin = _bin_terms(moving, bins)
    joint = np.zeros(bins * bins)
    for offset in range(-1, 3):  # the four bins the cubic window of each moving sample reaches
        column = moving_bin + offset
        joint += np.bincount(fixed_bin * bins + column, weights=cubic_bspline(column - moving_term),
                             minlength=bins * bins)
    joint = joint.reshape(bins, bins) / joint.sum()
    fixed_pdf = np.bincount(fixed_bin, minlength=bins) / fixed.size
    moving_pdf = joint.sum(axis=0)
    tiny = np.finfo(np.float64).eps
    rows, columns = np.nonzero((joint > tiny) & (moving_pdf[None, :] > tiny) & (fixed_pdf[:, None] > tiny))
    p = joint[rows, columns]
    return float(np.sum(p * (np.log(p / moving_pdf[columns]) - np.log(fixed_pdf[rows]))))
