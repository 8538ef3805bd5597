"""Riemannian metrics on the latent space (thesis ch. 1, eq. 1.7 and ch. 3, sec. 3.4), as pure tensor
functions and buffer-holding modules.

- :mod:`.base`: the chunked loop over centroids and :class:`KernelMetric`, the interface both share;
- :mod:`.rhvae`: the RHVAE metric, defined through its inverse, and :class:`RHVAEMetric`;
- :mod:`.geometric`: the diagonal metric of a vanilla VAE and :class:`GeometricMetric`.

All functions are differentiable with respect to every tensor argument, work in float32 and float64,
and loop over the centroids in chunks so that memory stays bounded for thousands of centroids and
large batches. Log-determinants go through a Cholesky factor, never through ``det``.
"""

from medaug._exports import lazy_exports

_EXPORTS = {
    "DEFAULT_CHUNK_ELEMENTS": "base",
    "geometric_kernel_weights": "geometric",
    "geometric_log_det_and_grad_log_det_metric": "geometric",
    "geometric_metric_diag": "geometric",
    "GeometricMetric": "geometric",
    "KernelMetric": "base",
    "max_min_distance": "geometric",
    "rhvae_grad_inverse_quadratic_form": "rhvae",
    "rhvae_grad_log_det_metric": "rhvae",
    "rhvae_inverse_metric": "rhvae",
    "rhvae_kernel_weights": "rhvae",
    "rhvae_log_det_and_grad_log_det_metric": "rhvae",
    "rhvae_log_det_metric": "rhvae",
    "rhvae_metric": "rhvae",
    "RHVAEMetric": "rhvae",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
