"""Shared by the audit tests: small smooth volumes, MS-SSIM settings for volumes this small, and
acceptance criteria."""

import numpy as np

SMALL_MS_SSIM = {"weights": [0.0711, 0.4530, 0.4759], "kernel_size": 3, "kernel_sigma": 1.0}


def smooth_volumes(n: int, shape=(12, 14, 12), seed: int = 0) -> np.ndarray:
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n, *shape))
    return np.clip(0.5 + 2.0 * np.stack([ndimage.gaussian_filter(v, 1.5) for v in noise]), 0, 1).astype(np.float32)


CRITERIA = {"min_dissimilarity_share": 0.6, "min_precision": 0.5, "min_recall": 0.3, "max_near_copies": 0,
            "max_share_closer_than_reconstructions": 0.15}


PLANTED_SHAPE = (16, 16, 16)


class SmoothCohort:
    """A generative process of small "brain" volumes (float32 (n, 16, 16, 16) in [0, 1]).

    Inside a soft ball: a shared template (the anatomy every subject has), plus a subject-specific
    mix of ``n_fields`` smooth random fields (between-subject anatomy), plus fine subject texture;
    outside: faint background noise. Two draws with different seeds are two cohorts of the same
    population, as training and held-out patients are.
    """

    def __init__(self, seed: int = 100, n_fields: int = 40, amplitude: float = 0.03, texture: float = 0.02):
        from scipy import ndimage

        rng = np.random.default_rng(seed)
        grid = np.indices(PLANTED_SHAPE).astype(float)
        radius = np.sqrt(((grid - 7.5) ** 2).sum(0))
        self.ball = ndimage.gaussian_filter((radius < 6.5).astype(float), 1.0)
        fields = np.stack([ndimage.gaussian_filter(rng.standard_normal(PLANTED_SHAPE), 2.0) for _ in range(n_fields)])
        self.fields = fields / fields.std(axis=(1, 2, 3), keepdims=True)
        template = ndimage.gaussian_filter(rng.standard_normal(PLANTED_SHAPE), 2.0)
        self.template = template / template.std()
        self.amplitude, self.texture = amplitude, texture

    def draw(self, n: int, seed: int) -> np.ndarray:
        from scipy import ndimage

        rng = np.random.default_rng(seed)
        weights = rng.standard_normal((n, len(self.fields))) * self.amplitude
        anatomy = np.einsum("nk,kxyz->nxyz", weights, self.fields)
        texture = np.stack([ndimage.gaussian_filter(rng.standard_normal(PLANTED_SHAPE), 0.7) for _ in range(n)])
        texture /= texture.std()
        inside = 0.55 + 0.15 * self.template + anatomy + self.texture * texture
        volumes = self.ball * inside + (1 - self.ball) * 0.05 * rng.random((n, *PLANTED_SHAPE))
        return np.clip(volumes, 0, 1).astype(np.float32)


def gaussian_smoothed(volumes: np.ndarray, sigma: float) -> np.ndarray:
    """Each volume of (n, D, H, W) blurred by a Gaussian of sd ``sigma`` voxels: float32."""
    from scipy import ndimage

    return np.stack([ndimage.gaussian_filter(v.astype(np.float64), sigma) for v in volumes]).astype(np.float32)
