"""medaug.sampling.chains: the chains' device, the per-step random draws and the chunk override.

CI has no GPU: these tests check the CPU fallback of every CUDA path and that the device options
leave the CPU results bit for bit as they were.
"""

import warnings

import pytest
import torch

from medaug.sampling import RiemannianHMCSampler, RiemannianRandomWalk
from medaug.sampling.chains import StepDraws, sampling_device
from medaug.sampling.hmc import hmc_chains
from tests.sampling._targets import rhvae_metric


def _run(sampler_class, metric, **options):
    sampler = sampler_class(metric, n_steps=4, batch_size=5, **options)
    return sampler.run(12, torch.Generator().manual_seed(3))


@pytest.mark.parametrize("sampler_class", [RiemannianHMCSampler, RiemannianRandomWalk])
def test_device_cpu_and_auto_give_the_default_result_on_cpu(sampler_class):
    metric = rhvae_metric().float()
    default = _run(sampler_class, metric)
    for device in ("cpu", "auto"):
        other = _run(sampler_class, metric, device=device)
        if other.samples.device.type == "cpu":
            torch.testing.assert_close(other.samples, default.samples, rtol=0, atol=0)
            torch.testing.assert_close(other.acceptance_rate, default.acceptance_rate, rtol=0, atol=0)
        else:  # "auto" on a machine with CUDA: same draws, other reduction order
            torch.testing.assert_close(other.samples.cpu(), default.samples, rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback of a machine without CUDA")
def test_cuda_device_falls_back_to_cpu_with_a_warning():
    metric = rhvae_metric().float()
    default = _run(RiemannianHMCSampler, metric)
    with pytest.warns(UserWarning, match="CUDA is not available"):
        fallback = _run(RiemannianHMCSampler, metric, device="cuda")
    assert fallback.samples.device.type == "cpu"
    torch.testing.assert_close(fallback.samples, default.samples, rtol=0, atol=0)


def test_sampling_device_resolution():
    assert sampling_device(None, torch.device("cpu")) == torch.device("cpu")
    assert sampling_device("cpu", torch.device("cpu")) == torch.device("cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = "cuda" if torch.cuda.is_available() else "cpu"
        assert sampling_device("cuda", torch.device("cpu")).type == expected


def test_prefetched_draws_are_the_step_by_step_draws():
    like = torch.zeros(3, dtype=torch.float64)
    direct = StepDraws(7, 3, like, torch.Generator().manual_seed(1), prefetch=False)
    prefetched = StepDraws(7, 3, like, torch.Generator().manual_seed(1), block=4, prefetch=True)
    for _ in range(10):  # crosses block boundaries
        for a, b in zip(direct.next(), prefetched.next()):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_hmc_with_prefetched_draws_is_bit_identical():
    metric = rhvae_metric().float()

    def target(z):
        log_det, grad = metric.log_det_and_grad_log_det_metric(z)
        return -0.5 * log_det, -0.5 * grad

    z0 = metric.centroids[:6].clone()
    a = hmc_chains(target, z0, 5, 3, 0.05, torch.Generator().manual_seed(9), radius=4.0, adapt_steps=2)
    b = hmc_chains(target, z0, 5, 3, 0.05, torch.Generator().manual_seed(9), radius=4.0, adapt_steps=2,
                   prefetch_draws=True)
    torch.testing.assert_close(a.samples, b.samples, rtol=0, atol=0)
    torch.testing.assert_close(a.acceptance_rate, b.acceptance_rate, rtol=0, atol=0)


def test_chunk_override_is_close_and_leaves_the_model_metric_alone():
    metric = rhvae_metric().float()
    chunk = metric.chunk_elements
    default = _run(RiemannianHMCSampler, metric)
    one_chunk = _run(RiemannianHMCSampler, metric, chunk_elements=1 << 31)
    tiny_chunks = _run(RiemannianHMCSampler, metric, chunk_elements=1)
    assert metric.chunk_elements == chunk and metric.centroids.device.type == "cpu"
    torch.testing.assert_close(one_chunk.samples, default.samples, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(tiny_chunks.samples, default.samples, rtol=1e-4, atol=1e-5)
