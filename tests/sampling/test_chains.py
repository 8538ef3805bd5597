"""medaug.sampling.chains: every MCMC sampler is seeded, batched, bounded and sets its thread count."""

import pytest
import torch

from medaug.sampling import GeometricHMCSampler, RiemannianHMCSampler, RiemannianRandomWalk
from medaug.sampling.chains import block_sizes
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


def test_block_sizes_split_the_chains_evenly():
    assert block_sizes(200, 2) == [100, 100]
    assert block_sizes(200, 3) == [67, 67, 66]
    assert block_sizes(3, 5) == [1, 1, 1]
    assert sum(block_sizes(1001, 7)) == 1001


def test_chain_blocks_give_the_same_samples_in_any_number_of_worker_processes():
    """A block's chains draw from their own seeded generator: worker processes change no sample,
    while the block count, part of the recipe, does."""
    metric = rhvae_metric().float()
    options = dict(n_steps=3, n_leapfrog=3, step_size=0.05, adapt_steps=2, num_threads=1)
    one = RiemannianHMCSampler(metric, **options).run(9, torch.Generator().manual_seed(5))
    serial = RiemannianHMCSampler(metric, chain_blocks=3, **options).run(9, torch.Generator().manual_seed(5))
    parallel = RiemannianHMCSampler(metric, chain_blocks=3, workers=2, **options).run(9, torch.Generator().manual_seed(5))
    torch.testing.assert_close(parallel.samples, serial.samples, rtol=0, atol=0)
    torch.testing.assert_close(parallel.acceptance_rate, serial.acceptance_rate, rtol=0, atol=0)
    assert serial.samples.shape == (9, 2) and not torch.equal(serial.samples, one.samples)
    # each block is the run of its own chains from its own seed
    seeds = torch.randint(2**62, (3,), generator=torch.Generator().manual_seed(5)).tolist()
    first = RiemannianHMCSampler(metric, **options).run(3, torch.Generator().manual_seed(seeds[0]))
    torch.testing.assert_close(serial.samples[:3], first.samples, rtol=0, atol=0)


def test_bad_block_settings_are_refused():
    with pytest.raises(ValueError, match="chain_blocks"):
        RiemannianHMCSampler(rhvae_metric(), chain_blocks=0)
    with pytest.raises(ValueError, match="workers"):
        RiemannianHMCSampler(rhvae_metric(), workers=0)
