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

_EXPORTS = {  # defining module (relative) -> its public names
    "base": ["DEFAULT_CHUNK_ELEMENTS", "KernelMetric"],
    "geometric": [
        "geometric_kernel_weights", "geometric_log_det_and_grad_log_det_metric",
        "geometric_metric_diag", "GeometricMetric", "max_min_distance"
    ],
    "rhvae": [
        "rhvae_grad_inverse_quadratic_form", "rhvae_grad_log_det_metric", "rhvae_inverse_metric",
        "rhvae_kernel_weights", "rhvae_log_det_and_grad_log_det_metric", "rhvae_log_det_metric",
        "rhvae_metric", "RHVAEMetric"
    ],
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
