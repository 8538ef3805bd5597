"""Generative models: networks, VAE, RHVAE and their Riemannian latent metrics."""

from medaug.models.metric import GeometricMetric, RHVAEMetric

__all__ = ["GeometricMetric", "RHVAEMetric"]
