"""Latent-space samplers: Riemannian MCMC (thesis ch. 1-3) and the prior / Gaussian-mixture baselines.

All return latent codes (n, d); decoding them into volumes is the models' job
(:mod:`medaug.models.decode`). :mod:`.chains` holds what the MCMC samplers share (settings, the
batched-chain loop), :mod:`.factory` picks a sampler by name, :mod:`.synthesize` turns latent codes
into a synthetic cohort (:mod:`medaug.synthetic`) and :mod:`.stage` is the ``sample`` stage.
"""

from medaug._exports import lazy_exports

_EXPORTS = {
    "ChainSampler": "chains",
    "ChainSettings": "chains",
    "exponential_map": "random_walk",
    "GaussianMixtureSampler": "baselines",
    "geodesic_hamiltonian": "random_walk",
    "GeometricHMCSampler": "geometric",
    "GeometricHMCSettings": "geometric",
    "hmc_chains": "hmc",
    "HMCSampler": "hmc",
    "HMCSettings": "hmc",
    "leapfrog": "hmc",
    "MCMCResult": "chains",
    "PriorSampler": "baselines",
    "RandomWalkSettings": "random_walk",
    "RiemannianHMCSampler": "hmc",
    "RiemannianRandomWalk": "random_walk",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
