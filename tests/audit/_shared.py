"""Shared by the audit tests: small smooth volumes, MS-SSIM settings for volumes this small, and
acceptance criteria."""

import numpy as np

SMALL_MS_SSIM = {"weights": [0.0711, 0.4530, 0.4759], "kernel_size": 3, "kernel_sigma": 1.0}


def smooth_volumes(n: int, shape=(12, 14, 12), seed: int = 0) -> np.ndarray:
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n, *shape))
    return np.clip(0.5 + 2.0 * np.stack([ndimage.gaussian_filter(v, 1.5) for v in noise]), 0, 1).astype(np.float32)


CRITERIA = {"ms_ssim_margin": 0.02, "min_precision": 0.5, "min_recall": 0.3, "max_near_copies": 0}
