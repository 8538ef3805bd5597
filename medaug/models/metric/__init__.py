"""Riemannian metrics on the latent space (thesis ch. 1, eq. 1.7 and ch. 3, sec. 3.4), as pure tensor
functions and buffer-holding modules.

- :mod:`.base`: the chunked loop over centroids and :class:`KernelMetric`, the interface both share;
- :mod:`.rhvae_metric`: the RHVAE metric, defined through its inverse, and :class:`RHVAEMetric`;
- :mod:`.geometric_metric`: the diagonal metric of a vanilla VAE and :class:`GeometricMetric`.

All functions are differentiable with respect to every tensor argument, work in float32 and float64,
and loop over the centroids in chunks so that memory stays bounded for thousands of centroids and
large batches. Log-determinants go through a Cholesky factor, never through ``det``.
"""

from medaug.models.metric.base import DEFAULT_CHUNK_ELEMENTS, KernelMetric
from medaug.models.metric.geometric_metric import (
    GeometricMetric,
    geometric_kernel_weights,
    geometric_log_det_and_grad_log_det_metric,
    geometric_metric_diag,
    max_min_distance,
)
from medaug.models.metric.rhvae_metric import (
    RHVAEMetric,
    rhvae_grad_inverse_quadratic_form,
    rhvae_grad_log_det_metric,
    rhvae_inverse_metric,
    rhvae_kernel_weights,
    rhvae_log_det_and_grad_log_det_metric,
    rhvae_log_det_metric,
    rhvae_metric,
)

# The one list of the package's public names (the two metric modules do not repeat it).
__all__ = [
    "DEFAULT_CHUNK_ELEMENTS",
    "KernelMetric",
    "RHVAEMetric",
    "rhvae_kernel_weights",
    "rhvae_inverse_metric",
    "rhvae_metric",
    "rhvae_log_det_metric",
    "rhvae_grad_log_det_metric",
    "rhvae_log_det_and_grad_log_det_metric",
    "rhvae_grad_inverse_quadratic_form",
    "GeometricMetric",
    "geometric_kernel_weights",
    "geometric_metric_diag",
    "geometric_log_det_and_grad_log_det_metric",
    "max_min_distance",
]
