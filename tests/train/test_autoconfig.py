"""The auto settings of train_vae: latent size by held-out PPCA likelihood, metric temperature by code spacing."""

import pytest
import torch

from medaug.train.autoconfig import choose_latent_size


def _low_rank(n, rank, generator):
    loadings = 3.0 * torch.randn(1, 6, 6, 6, rank, generator=generator)
    codes = torch.randn(n, rank, generator=generator)
    return (loadings * codes[:, None, None, None, :]).sum(-1)[:, None] + 0.1 * torch.randn(n, 1, 6, 6, 6, generator=generator)


def test_choose_latent_size_takes_the_best_held_out_candidate_below_the_rank():
    generator = torch.Generator().manual_seed(0)
    data = _low_rank(60, 3, generator)
    size, scores = choose_latent_size(data[:40], data[40:], {"candidates": [1, 3, 10, 100]}, 0.1)
    assert size == 3 and 100 not in scores and set(scores) == {1, 3, 10}


def test_choose_latent_size_needs_held_out_data_and_a_valid_candidate():
    data = torch.rand(10, 1, 4, 4, 4)
    with pytest.raises(ValueError, match="validation split"):
        choose_latent_size(data, None, {"candidates": [2]}, 0.1)
    with pytest.raises(ValueError, match="candidates"):
        choose_latent_size(data, data[:3], {"candidates": [50]}, 0.1)


def test_metric_temperature_follows_the_spacing_of_the_codes():
    from medaug.train.autoconfig import choose_metric_temperature

    generator = torch.Generator().manual_seed(1)
    data = _low_rank(30, 4, generator)
    temperature, spacing = choose_metric_temperature(data, 4, 0.1, 0.5)
    assert spacing > 0 and temperature == pytest.approx(0.5 * spacing)
    # the codes are whitened (posterior means of the PPCA), so their spacing grows with d, not with the data's scale
    rich = _low_rank(60, 8, generator)
    assert choose_metric_temperature(rich, 8, 0.1, 1.0)[1] > 1.5 * choose_metric_temperature(rich, 2, 0.1, 1.0)[1]
    assert choose_metric_temperature(3.0 * rich, 8, 0.1, 1.0)[1] == pytest.approx(
        choose_metric_temperature(rich, 8, 0.1, 1.0)[1], rel=0.05)


def test_resolve_auto_settings_replaces_every_auto_and_records_the_evidence():
    from medaug.train.autoconfig import resolve_auto_settings

    generator = torch.Generator().manual_seed(2)
    data = _low_rank(40, 3, generator)
    params = {"model": "rhvae", "network": {"latent_size": "auto"}, "rhvae": {"metric_temperature": "auto", "observation_std": 0.1},
              "latent_size_selection": {"candidates": [1, 3, 6]}, "metric_temperature_scale": 0.5}
    resolved, chosen = resolve_auto_settings(params, data[:30], data[30:])
    assert resolved["network"]["latent_size"] == chosen["latent_size"] == 3
    assert resolved["rhvae"]["metric_temperature"] == pytest.approx(0.5 * chosen["code_spacing"])
    assert params["network"]["latent_size"] == "auto"          # the input is left as it was
    fixed = {**params, "network": {"latent_size": 4}, "rhvae": {"metric_temperature": 1.5}}
    assert resolve_auto_settings(fixed, data, None) == (fixed, {})


def test_choose_latent_model_finds_the_planted_noise_level_and_rank():
    from medaug.train.autoconfig import choose_latent_model

    generator = torch.Generator().manual_seed(4)
    data = _low_rank(60, 3, generator)  # rank 3 + noise sd 0.1
    size, std, scores = choose_latent_model(data[:45], data[45:], [1, 3, 6], [0.03, 0.1, 0.3])
    assert (size, std) == (3, 0.1)
    assert set(scores) == {0.03, 0.1, 0.3} and set(scores[0.1]) == {1, 3, 6}
    with pytest.raises(ValueError, match="positive"):
        choose_latent_model(data[:45], data[45:], [3], [0.0])


def test_resolve_auto_settings_shares_components_and_scales_the_leapfrog_step_with_s():
    from medaug.train.autoconfig import linear_start, resolve_auto_settings

    generator = torch.Generator().manual_seed(5)
    data = _low_rank(70, 3, generator)
    own, other, val = data[:20], data[20:60] + 0.5, data[60:]
    params = {"model": "rhvae", "network": {"latent_size": "auto"},
              "rhvae": {"observation_std": "auto", "leapfrog_step_size": "auto", "metric_temperature": "auto",
                        "linear_path": True},
              "latent_size_selection": {"candidates": [1, 3, 6]}, "observation_std_selection": {"candidates": [0.05, 0.1, 0.2]},
              "leapfrog_step_scale": 1e-3, "metric_temperature_scale": 1.0, "linear_path_components": "shared"}
    resolved, chosen = resolve_auto_settings(params, own, val, [other])
    assert resolved["rhvae"]["leapfrog_step_size"] == pytest.approx(1e-3 * resolved["rhvae"]["observation_std"])
    assert chosen["linear_path_components"] == "shared" and chosen["shared_with_volumes"] == 40
    start = linear_start(resolved, own, [other])
    assert start is not None and start.components.shape[0] == resolved["network"]["latent_size"]
    assert torch.allclose(start.mean, own.reshape(20, -1).double().mean(0).float())
    assert linear_start({**resolved, "linear_path_components": "label"}, own, [other]) is None
    with pytest.raises(ValueError, match="linear_path_components"):
        resolve_auto_settings({**params, "linear_path_components": "pooled"}, own, val, [other])
