"""medaug.sampling.baselines: the prior and the Gaussian mixture on training latents."""

import pytest
import torch

from medaug.sampling import GaussianMixtureSampler, PriorSampler


def test_prior_sampler():
    prior = PriorSampler(3)
    draws = prior.sample(20000, torch.Generator().manual_seed(0))
    assert draws.shape == (20000, 3)
    torch.testing.assert_close(draws.mean(0), torch.zeros(3), rtol=0, atol=0.03)
    torch.testing.assert_close(torch.cov(draws.T), torch.eye(3), rtol=0, atol=0.05)
    torch.testing.assert_close(draws, prior.sample(20000, torch.Generator().manual_seed(0)), rtol=0, atol=0)


def test_gaussian_mixture_sampler_recovers_clusters():
    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[-4.0, 0.0], [4.0, 1.0]])
    latents = torch.cat([c + 0.3 * torch.randn(300, 2, generator=gen) for c in centres])
    mixture = GaussianMixtureSampler(n_components=2).fit(latents)
    draws = mixture.sample(4000, torch.Generator().manual_seed(1))
    left = draws[:, 0] < 0
    assert abs(float(left.float().mean()) - 0.5) < 0.05
    torch.testing.assert_close(draws[left].mean(0), centres[0], rtol=0, atol=0.05)
    torch.testing.assert_close(draws[left].std(0), torch.full((2,), 0.3), rtol=0, atol=0.03)
    # components capped by the number of points; state round trip
    small = GaussianMixtureSampler().fit(latents[:4])
    assert small.weights.shape == (4,)
    restored = GaussianMixtureSampler()
    restored.load_state_dict(mixture.state_dict())
    torch.testing.assert_close(
        restored.sample(7, torch.Generator().manual_seed(2)), mixture.sample(7, torch.Generator().manual_seed(2))
    )
    with pytest.raises(RuntimeError):
        GaussianMixtureSampler().sample(3)
