"""medaug.sampling.chains: every MCMC sampler is seeded, batched, bounded and sets its thread count."""

import torch

from medaug.sampling import GeometricHMCSampler, RiemannianHMCSampler, RiemannianRandomWalk
from tests.sampling._targets import CENTROIDS, geometric_metric, rhvae_metric


def test_samplers_are_seeded_batched_and_bounded():
    metric = rhvae_metric().float()
    for sampler in (
        RiemannianHMCSampler(metric, n_steps=3, n_leapfrog=3, step_size=0.05, batch_size=4),
        RiemannianRandomWalk(metric, n_steps=3, batch_size=4),
        GeometricHMCSampler(geometric_metric().float(), n_steps=3, n_leapfrog=3, batch_size=4),
    ):
        a = sampler.run(10, torch.Generator().manual_seed(5))
        b = sampler.run(10, torch.Generator().manual_seed(5))
        assert a.samples.shape == (10, 2) and a.samples.dtype == torch.float32
        assert a.acceptance_rate.shape == (10,)
        torch.testing.assert_close(a.samples, b.samples, rtol=0, atol=0)
        assert bool(((a.acceptance_rate >= 0) & (a.acceptance_rate <= 1)).all())
        assert a.samples.norm(dim=1).max() <= 2 * CENTROIDS.norm(dim=1).max() + 1e-6


def test_sampler_sets_and_restores_threads():
    torch.set_num_threads(2)
    seen = []

    class Spy(RiemannianHMCSampler):
        def log_prob_and_grad(self, z):
            seen.append(torch.get_num_threads())
            return super().log_prob_and_grad(z)

    Spy(rhvae_metric(), n_steps=1, n_leapfrog=1, num_threads=1).sample(2)
    assert set(seen) == {1} and torch.get_num_threads() == 2
