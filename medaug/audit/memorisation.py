"""Memorisation: how close is each synthetic volume to its nearest training volume?

A generator that copies its training patients produces synthetic volumes nearer to a training
volume than any new real patient is. We therefore compare, inside a brain mask,

- the distance of every synthetic volume to its nearest training volume, with
- the same distance for held-out real volumes (patients the generator never saw),

for two distances: the root-mean-square intensity difference (L2 / sqrt(n voxels), lower = closer)
and the mean local SSIM (Gaussian window, higher = closer). A synthetic volume is a *near-copy*
when its nearest-neighbour SSIM is at least ``ssim_min`` or its L2 at most ``l2_max``.

The SSIM nearest neighbour is searched among the ``n_candidates`` L2-nearest training volumes
(exact search costs one 3D SSIM per pair); with ``n_candidates`` >= the training set it is exact.

Near-copy thresholds miss a blurred copy: a decoder's output is smoother than any real volume, so
its raw distance to the training volume it copies stays above ``l2_max`` and its SSIM below
``ssim_min``. :func:`reconstruction_matched_test` compares the synthetic volumes' distances with
those of the model's reconstructions of held-out volumes instead, which are as blurred.

All functions are pure; volumes are float arrays in [0, 1] of shape (N, D, H, W).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy import ndimage


def brain_mask(volumes: np.ndarray, threshold: float, erode_voxels: int = 0) -> np.ndarray:
    """Voxels whose mean intensity over ``volumes`` (N, D, H, W) exceeds ``threshold``, with its
    enclosed holes filled and then eroded by ``erode_voxels`` voxels (6-connected binary erosion;
    0 keeps the thresholded mask as it is): bool (D, H, W).

    The thresholded mask is what the volumes show: the head on volumes that are not
    skull-stripped, the brain plus the margin preprocessing keeps around it on volumes zeroed
    outside a dilated template brain mask. Eroding it by that margin (or by scalp and skull, about
    8 mm) leaves the brain, without the shell where a VAE's samples vary most. Holes (dark
    ventricles below the threshold) are filled first so that the erosion does not eat into the
    tissue around them.
    Raises ``ValueError`` on an empty stack, a negative erosion or an empty mask.
    """
    volumes = np.asarray(volumes)
    if volumes.ndim != 4 or len(volumes) == 0:
        raise ValueError(f"brain_mask: expected a non-empty (N, D, H, W) stack, got shape {volumes.shape}")
    if int(erode_voxels) < 0:
        raise ValueError(f"brain_mask: erode_voxels must be >= 0, got {erode_voxels}")
    mask = volumes.mean(axis=0, dtype=np.float64) > threshold
    if not mask.any():
        raise ValueError(f"brain_mask: no voxel has a mean intensity above {threshold}")
    if int(erode_voxels) > 0:
        mask = ndimage.binary_erosion(ndimage.binary_fill_holes(mask), iterations=int(erode_voxels))
        if not mask.any():
            raise ValueError(f"brain_mask: nothing is left of the mask (threshold {threshold}) after eroding "
                             f"{erode_voxels} voxels; lower audit.mask.erode_voxels")
    return mask


# Gaussian windows of the local statistics (SSIM here, MS-SSIM in medaug.audit.diversity): torch tensors
# (B, C, D, H, W), a separable window applied axis by axis with zero padding (same shape out).

def gaussian_kernel(sigma: float, radius: int) -> torch.Tensor:
    """1-D Gaussian window of sd ``sigma`` voxels on ``-radius..radius``, summing to 1: float64 (2 radius + 1,)."""
    if not sigma > 0 or int(radius) < 0:
        raise ValueError(f"gaussian_kernel: need sigma > 0 and radius >= 0, got sigma={sigma}, radius={radius}")
    x = torch.arange(-int(radius), int(radius) + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def gaussian_blur(volumes: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Separable blur of (B, C, D, H, W) by the 1-D ``kernel`` along each spatial axis, zero padding.

    Each axis is a weighted sum of the zero-padded volume shifted by -r..r voxels (r = len(kernel) // 2):
    on a CPU about 3x faster than a grouped ``conv3d`` with a 1-D weight, for the same sums.
    """
    radius = len(kernel) // 2
    weights = [float(w) for w in kernel.to(torch.float64)]
    out = volumes
    for axis in (2, 3, 4):
        padding = [0] * 6
        padding[2 * (4 - axis)] = padding[2 * (4 - axis) + 1] = radius   # F.pad lists the last axis first
        padded = F.pad(out, padding)
        size = out.shape[axis]
        blurred = padded.narrow(axis, 0, size) * weights[0]
        for offset in range(1, len(weights)):
            blurred.add_(padded.narrow(axis, offset, size), alpha=weights[offset])
        out = blurred
    return out


def masked_local_mean(volumes: torch.Tensor, weight: torch.Tensor, kernel: torch.Tensor,
                      eps: float = 1e-12) -> torch.Tensor:
    """Gaussian-window mean of ``volumes`` over the voxels of ``weight`` only (normalised convolution).

    Args:
        volumes: (B, C, D, H, W); weight: (D, H, W) in [0, 1] (a mask), broadcast over B and C.
        kernel: 1-D window (:func:`gaussian_kernel`).
    Returns:
        (B, C, D, H, W): ``blur(weight * v) / blur(weight)``; 0 where no masked voxel is in the window.
        Voxels outside the mask, and the grid border, do not enter the mean.
    """
    w = weight.to(volumes.dtype)[None, None]
    norm = gaussian_blur(w, kernel)
    return gaussian_blur(volumes * w, kernel) / norm.clamp_min(eps) * (norm > eps)


def _masked_rows(volumes: np.ndarray, mask: np.ndarray) -> np.ndarray:
    volumes = np.asarray(volumes, dtype=np.float64)
    if volumes.shape[1:] != mask.shape:
        raise ValueError(f"volumes of shape {volumes.shape[1:]} do not match the mask {mask.shape}")
    return volumes[:, mask]


def masked_rms_distances(queries: np.ndarray, references: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """RMS difference inside ``mask`` between every query and every reference volume.

    Args:
        queries: (n, D, H, W); references: (m, D, H, W); mask: bool (D, H, W).
    Returns:
        (n, m) float64, ``sqrt(mean over mask of (q - r)^2)``.
    """
    q, r = _masked_rows(queries, mask), _masked_rows(references, mask)
    squared = (q ** 2).sum(1)[:, None] + (r ** 2).sum(1)[None, :] - 2.0 * q @ r.T
    return np.sqrt(np.clip(squared, 0.0, None) / q.shape[1])


def _local_moments(volumes: np.ndarray, kernel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian-window mean and mean of squares of (B, D, H, W) volumes: two float32 (B, D, H, W)."""
    v = torch.tensor(np.asarray(volumes), dtype=torch.float32)
    mu, ex2 = gaussian_blur(torch.stack([v, v * v], dim=1), kernel).unbind(1)
    return mu, ex2


def _ssim_from_moments(x: torch.Tensor, mu_x: torch.Tensor, ex2_x: torch.Tensor, y: torch.Tensor,
                       mu_y: torch.Tensor, ex2_y: torch.Tensor, kernel: torch.Tensor, mask: torch.Tensor,
                       c1: float, c2: float) -> torch.Tensor:
    """Masked mean SSIM of paired volumes given their local moments; only ``x * y`` is blurred here."""
    exy = gaussian_blur((x * y)[:, None], kernel)[:, 0]
    var_x, var_y, cov = ex2_x - mu_x ** 2, ex2_y - mu_y ** 2, exy - mu_x * mu_y
    ssim = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return ssim[:, mask].double().mean(1)


def masked_ssim(x: np.ndarray, y: np.ndarray, mask: np.ndarray, sigma: float = 1.5, radius: int = 3,
                data_range: float = 1.0, k1: float = 0.01, k2: float = 0.03) -> np.ndarray:
    """Mean local SSIM inside ``mask`` of paired volumes ``x[i]``, ``y[i]``.

    Local statistics use a Gaussian window of sd ``sigma`` voxels truncated at ``radius`` voxels
    (zero padding at the grid border); the SSIM map (Wang et al. 2004, constants ``(k1 L)^2``,
    ``(k2 L)^2`` with ``L = data_range``) is averaged over the mask. Computed in float32.

    Args:
        x, y: (B, D, H, W) volumes; mask: bool (D, H, W).
    Returns:
        (B,) float64; 1 for identical volumes.
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.shape != y.shape or x.ndim != 4 or tuple(x.shape[1:]) != tuple(mask.shape):
        raise ValueError(f"masked_ssim: shapes {tuple(x.shape)}, {tuple(y.shape)} and mask {mask.shape} differ")
    kernel = gaussian_kernel(sigma, radius).float()
    (mu_x, ex2_x), (mu_y, ex2_y) = _local_moments(x, kernel), _local_moments(y, kernel)
    return _ssim_from_moments(torch.tensor(x, dtype=torch.float32), mu_x, ex2_x, torch.tensor(y, dtype=torch.float32),
                              mu_y, ex2_y, kernel, torch.as_tensor(mask, dtype=torch.bool),
                              (k1 * data_range) ** 2, (k2 * data_range) ** 2).numpy()


@dataclass(frozen=True)
class NearestNeighbours:
    """Nearest reference of each query.

    Attributes (length n): ``l2`` and ``l2_index``: smallest RMS distance and its reference row;
    ``ssim`` and ``ssim_index``: largest masked SSIM among the L2 candidates and its reference row.
    """

    l2: np.ndarray
    l2_index: np.ndarray
    ssim: np.ndarray
    ssim_index: np.ndarray


def nearest_neighbours(queries: np.ndarray, references: np.ndarray, mask: np.ndarray, n_candidates: int,
                       ssim_options: dict | None = None) -> NearestNeighbours:
    """Nearest reference volume of every query by L2 and by SSIM (see the module docstring).

    Args:
        queries: (n, D, H, W); references: (m, D, H, W), m >= 1; mask: bool (D, H, W).
        n_candidates: SSIM is computed against this many L2-nearest references (>= 1).
        ssim_options: keyword arguments of :func:`masked_ssim`.
    """
    if len(references) == 0:
        raise ValueError("nearest_neighbours: no reference volume")
    if int(n_candidates) < 1:
        raise ValueError(f"nearest_neighbours: n_candidates must be >= 1, got {n_candidates}")
    distances = masked_rms_distances(queries, references, mask)
    k = min(int(n_candidates), len(references))
    candidates = np.argsort(distances, axis=1, kind="stable")[:, :k]
    options = {"sigma": 1.5, "radius": 3, "data_range": 1.0, "k1": 0.01, "k2": 0.03, **(ssim_options or {})}
    kernel = gaussian_kernel(float(options["sigma"]), int(options["radius"])).float()
    c1, c2 = (options["k1"] * options["data_range"]) ** 2, (options["k2"] * options["data_range"]) ** 2
    torch_mask = torch.as_tensor(mask, dtype=torch.bool)
    ref = torch.tensor(np.asarray(references), dtype=torch.float32)
    ref_mu, ref_ex2 = _local_moments(ref.numpy(), kernel)       # once per reference volume
    ssim = np.empty(len(queries))
    ssim_index = np.empty(len(queries), dtype=int)
    for i, rows in enumerate(candidates):
        query = torch.tensor(np.asarray(queries[i:i + 1]), dtype=torch.float32)
        q_mu, q_ex2 = _local_moments(query.numpy(), kernel)
        rows_t = torch.as_tensor(rows)
        scores = _ssim_from_moments(query.expand(k, *query.shape[1:]), q_mu.expand(k, *q_mu.shape[1:]),
                                    q_ex2.expand(k, *q_ex2.shape[1:]), ref[rows_t], ref_mu[rows_t], ref_ex2[rows_t],
                                    kernel, torch_mask, c1, c2).numpy()
        best = int(np.argmax(scores))
        ssim[i], ssim_index[i] = scores[best], rows[best]
    nearest = candidates[:, 0]
    return NearestNeighbours(distances[np.arange(len(queries)), nearest], nearest, ssim, ssim_index)


def near_copy_flags(l2: np.ndarray, ssim: np.ndarray, ssim_min: float, l2_max: float) -> np.ndarray:
    """True where ``ssim >= ssim_min`` or ``l2 <= l2_max`` (bool, same length)."""
    return (np.asarray(ssim) >= ssim_min) | (np.asarray(l2) <= l2_max)


def memorisation_summary(synthetic: NearestNeighbours, held_out: NearestNeighbours, ssim_min: float,
                         l2_max: float) -> dict[str, float | int | None]:
    """Summary of one synthetic set against held-out real volumes of the same label.

    Keys: ``n_synthetic``, ``n_held_out``; medians of the nearest-training L2 / SSIM of each set;
    ``share_closer_l2``: share of synthetic volumes whose nearest-training L2 is below the smallest
    one of any held-out volume; ``share_closer_ssim``: likewise with SSIM above the largest;
    ``n_near_copies`` and ``share_near_copies``. Undefined values (no held-out volume) are None.
    """
    flags = near_copy_flags(synthetic.l2, synthetic.ssim, ssim_min, l2_max)
    n, h = len(synthetic.l2), len(held_out.l2)

    def median(values: np.ndarray) -> float | None:
        return float(np.median(values)) if len(values) else None

    return {
        "n_synthetic": int(n), "n_held_out": int(h),
        "synthetic_nn_l2_median": median(synthetic.l2), "held_out_nn_l2_median": median(held_out.l2),
        "synthetic_nn_ssim_median": median(synthetic.ssim), "held_out_nn_ssim_median": median(held_out.ssim),
        "share_closer_l2": float(np.mean(synthetic.l2 < held_out.l2.min())) if n and h else None,
        "share_closer_ssim": float(np.mean(synthetic.ssim > held_out.ssim.max())) if n and h else None,
        "n_near_copies": int(flags.sum()),
        "share_near_copies": float(flags.mean()) if n else None,
    }


def neighbour_table(ids: list[str], reference_ids: list[str], nn: NearestNeighbours, flags: np.ndarray | None = None) -> pd.DataFrame:
    """One row per query: participant_id, nearest training volume by L2 and by SSIM, distances, flag."""
    reference_ids = np.asarray(reference_ids, dtype=object)
    return pd.DataFrame({
        "participant_id": list(ids),
        "nn_l2": nn.l2, "nn_l2_participant": reference_ids[nn.l2_index],
        "nn_ssim": nn.ssim, "nn_ssim_participant": reference_ids[nn.ssim_index],
        "near_copy": flags if flags is not None else np.zeros(len(ids), dtype=bool),
    })


def nearest_distances(queries: np.ndarray, references: np.ndarray, mask: np.ndarray,
                      batch_size: int = 64) -> np.ndarray:
    """RMS distance inside ``mask`` from each query to its nearest reference: (n,) float64, intensity units.

    Args:
        queries: (n, D, H, W); references: (m, D, H, W), m >= 1; mask: bool (D, H, W).
        batch_size: queries per block (memory: ``batch_size * m`` distances at a time).
    """
    if len(references) == 0:
        raise ValueError("nearest_distances: no reference volume")
    blocks = [masked_rms_distances(queries[i:i + batch_size], references, mask).min(axis=1)
              for i in range(0, len(queries), int(batch_size))]
    return np.concatenate(blocks) if blocks else np.zeros(0)


def reconstruction_matched_test(synthetic_nn: np.ndarray, reconstruction_nn: np.ndarray,
                                quantile: float) -> dict[str, float | int | None]:
    """Blur-matched memorisation test: are synthetic volumes closer to the training set than the
    model's own reconstructions of real patients it never saw?

    A decoder's outputs are smoother than real volumes, so a blurred copy of a training volume is
    far from it by raw distances (near-copy thresholds do not catch it), yet a decoded new patient
    is just as blurred. The reference distribution is therefore the nearest-training distance of
    the model's reconstructions of held-out real volumes (encode to the posterior mean, decode),
    which carry the same blur as the samples. A synthetic volume is *closer than reconstructions*
    when its nearest-training distance is below the ``quantile`` (e.g. 0.05) of those distances.
    A generator whose samples are as far from the training set as new patients puts about a share
    ``quantile`` of them there; a generator that decodes the training codes puts most of them there.
    The quantile rather than the minimum is used because the minimum of a few dozen held-out
    distances is a noisy extreme whose expected share depends on the set sizes.
    (Same idea as the authenticity test of Alaa et al. 2022, "How faithful is your synthetic data?",
    with the held-out reference matched in blur.)

    Args:
        synthetic_nn: (n,) nearest-training RMS distance of each synthetic volume (in the mask).
        reconstruction_nn: (h,) the same for each reconstructed held-out real volume.
        quantile: in [0, 1].
    Returns:
        ``{threshold, share_closer_than_reconstructions, n_synthetic, n_reconstructions,
        reconstruction_nn_median}``; threshold and share are None without a reconstruction
        (share also without a synthetic volume).
    """
    if not 0.0 <= float(quantile) <= 1.0:
        raise ValueError(f"reconstruction_matched_test: quantile must be in [0, 1], got {quantile}")
    synthetic_nn, reconstruction_nn = np.asarray(synthetic_nn, float), np.asarray(reconstruction_nn, float)
    for name, values in (("synthetic_nn", synthetic_nn), ("reconstruction_nn", reconstruction_nn)):
        if values.ndim != 1 or not np.isfinite(values).all():
            raise ValueError(f"reconstruction_matched_test: {name} must be a finite 1-D array, got shape {values.shape}")
    threshold = float(np.quantile(reconstruction_nn, float(quantile))) if len(reconstruction_nn) else None
    share = float(np.mean(synthetic_nn < threshold)) if threshold is not None and len(synthetic_nn) else None
    return {"reconstruction_nn_threshold": threshold, "share_closer_than_reconstructions": share,
            "n_synthetic": int(len(synthetic_nn)), "n_reconstructions": int(len(reconstruction_nn)),
            "reconstruction_nn_median": float(np.median(reconstruction_nn)) if len(reconstruction_nn) else None}
