"""Latent-space samplers: Riemannian MCMC (thesis ch. 1-3) and the prior / Gaussian-mixture baselines.

All return latent codes (n, d); decoding them into volumes is the models' job
(:mod:`medaug.models.decode`). :mod:`.chains` holds what the MCMC samplers share (settings, the
batched-chain loop), :mod:`.factory` picks a sampler by name, :mod:`.synthesize` turns latent codes
into a synthetic cohort (:mod:`medaug.synthetic`) and :mod:`.stage` is the ``sample`` stage.
"""

from medaug._exports import lazy_exports

_EXPORTS = {  # defining module (relative) -> its public names
    "baselines": ["GaussianMixtureSampler", "PriorSampler"],
    "chains": ["ChainSampler", "ChainSettings", "MCMCResult"],
    "geometric": ["GeometricHMCSampler", "GeometricHMCSettings"],
    "hmc": ["hmc_chains", "HMCSampler", "HMCSettings", "leapfrog", "RiemannianHMCSampler"],
    "random_walk": ["exponential_map", "geodesic_hamiltonian", "RandomWalkSettings", "RiemannianRandomWalk"],
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
