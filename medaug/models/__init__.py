"""Generative models: networks, VAE, RHVAE and their Riemannian latent metrics."""

from medaug._exports import lazy_exports

_EXPORTS = {
    "GeometricMetric": "metric.geometric",
    "RHVAEMetric": "metric.rhvae",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
