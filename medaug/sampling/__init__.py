"""Latent-space samplers: Riemannian MCMC (thesis ch. 1-3) and the prior / Gaussian-mixture baselines.

All return latent codes (n, d); decoding them into volumes is the models' job
(:mod:`medaug.models.decode`). :mod:`.chains` holds what the MCMC samplers share (settings, the
batched-chain loop), :mod:`.factory` picks a sampler by name, :mod:`.synthesize` turns latent codes
into a synthetic cohort (:mod:`medaug.synthetic`) and :mod:`.stage` is the ``sample`` stage.
"""

from medaug.sampling.baselines import GaussianMixtureSampler, PriorSampler
from medaug.sampling.chains import ChainSampler, ChainSettings, MCMCResult
from medaug.sampling.geometric import GeometricHMCSampler, GeometricHMCSettings
from medaug.sampling.hmc import HMCSampler, HMCSettings, RiemannianHMCSampler, hmc_chains, leapfrog
from medaug.sampling.random_walk import RandomWalkSettings, RiemannianRandomWalk, exponential_map, geodesic_hamiltonian

__all__ = [
    "ChainSampler",
    "ChainSettings",
    "GaussianMixtureSampler",
    "GeometricHMCSettings",
    "HMCSampler",
    "HMCSettings",
    "RandomWalkSettings",
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
