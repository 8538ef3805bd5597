"""Generative models: networks, VAE, RHVAE and their Riemannian latent metrics."""

from medaug._exports import lazy_exports

_EXPORTS = {  # defining module (relative) -> its public names
    "metric.geometric": ["GeometricMetric"],
    "metric.rhvae": ["RHVAEMetric"],
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
