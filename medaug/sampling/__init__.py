"""Latent-space samplers: Riemannian MCMC (thesis ch. 1-3) and the prior / Gaussian-mixture baselines.

All return latent codes (n, d); decoding them into volumes is the models' job.
"""

from medaug.sampling.baselines import GaussianMixtureSampler, PriorSampler
from medaug.sampling.chains import MCMCResult
from medaug.sampling.geometric import GeometricHMCSampler
from medaug.sampling.hmc import RiemannianHMCSampler, hmc_chains, leapfrog
from medaug.sampling.random_walk import RiemannianRandomWalk, exponential_map, geodesic_hamiltonian

__all__ = [
    "GaussianMixtureSampler",
    "GeometricHMCSampler",
    "MCMCResult",
    "PriorSampler",
    "RiemannianHMCSampler",
    "RiemannianRandomWalk",
    "exponential_map",
    "geodesic_hamiltonian",
    "hmc_chains",
    "leapfrog",
]
