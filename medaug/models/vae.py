"""Vanilla VAE (the base the RHVAE and the geometry-aware VAE build on).

Generative model (thesis ch. 1, sec. 1.2): z ~ N(0, I_d), x | z ~ N(mu_theta(z), s^2 I_D) with
``s = observation_std``, or x | z ~ Bernoulli(sigmoid(l_theta(z))) with ``likelihood: bernoulli``
(thesis ch. 1, table 1.10; :mod:`medaug.models.likelihood`); posterior
q_phi(z|x) = N(mu_phi(x), diag(exp(log_var_phi(x)))).
The ELBO uses the analytic KL divergence: ELBO = log p(x|z) - KL(q(z|x) || p(z)), z reparametrised.
Every term is returned per sample, in nats, so a training loop can check each one.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from medaug.models.likelihood import LIKELIHOODS, bernoulli_log_likelihood, bernoulli_logits, bernoulli_mean
from medaug.models.networks import NetworkConfig, build_decoder, build_encoder, check_input, config_from_dict
from medaug.models.ppca import PPCAFit, fit_ppca

__all__ = [
    "VAEConfig",
    "ModelOutput",
    "VAE",
    "gaussian_log_likelihood",
    "standard_normal_log_density",
    "encode_dataset",
]

LOG_2PI = math.log(2.0 * math.pi)


def gaussian_log_likelihood(x: Tensor, mean: Tensor, std: float) -> Tensor:
    """log N(x; mean, std^2 I) summed over all non-batch axes: (B, ...) -> (B,)."""
    n_values = x[0].numel()
    squared = (x - mean).pow(2).flatten(1).sum(1)
    return -0.5 * squared / std**2 - n_values * (math.log(std) + 0.5 * LOG_2PI)


def standard_normal_log_density(z: Tensor) -> Tensor:
    """log N(z; 0, I): (B, d) -> (B,)."""
    return -0.5 * (z.pow(2).sum(-1) + z.shape[-1] * LOG_2PI)


@dataclass(frozen=True)
class VAEConfig:
    """A vanilla VAE: the networks and the observation noise.

    Attributes:
        network: encoder / decoder sizes.
        observation_std: s in p(x|z) = N(mu_theta(z), s^2 I); s = 1 matches Pythae's MSE losses.
            Unused with ``likelihood: bernoulli``.
        likelihood: ``"gaussian"`` (default) or ``"bernoulli"`` (values in [0, 1], thesis ch. 1,
            table 1.10). Bernoulli needs ``network.output_activation: sigmoid``: the decoder
            network then outputs logits l_theta(z), the likelihood is computed from them
            (:func:`~medaug.models.likelihood.bernoulli_log_likelihood`) and :meth:`VAE.decode`
            returns the mean sigmoid(l_theta(z)) in [0, 1]. It cannot be combined with
            ``residual_from_mean`` or ``linear_path`` (both parametrise a Gaussian mean).
        residual_from_mean: the decoder models the residual from the training mean image,
            mu_theta(z) = m + f_theta(z), and the encoder reads x - m (m: the voxel-wise mean of
            the training set, a buffer set by :meth:`VAE.prepare_for_training`). The generative
            model is the same family; only its parametrisation changes. On small cohorts whose
            volumes share most of their intensity pattern, the networks otherwise spend their
            capacity on m and decode every code to nearly the same volume.
        linear_path: add a linear path beside each network, initialised from the
            maximum-likelihood probabilistic PCA of the training set at noise sd s (Tipping and
            Bishop 1999, sec. 3.2; :mod:`medaug.models.ppca`), with the networks' output layers
            set to zero. Decoder mean m + W z + f_theta(z); encoder mean A (x - m) + g_phi(x) and
            log-variance b + h_phi(x). Training then starts from the best d-dimensional linear
            model of the data, whose posterior is exact, and the networks learn what it misses.
            Needs ``residual_from_mean`` (m is the PPCA mean). Without it, a conv VAE trained for
            a few hundred steps on a few dozen volumes decodes codes to volumes that differ by a
            third of what the rank-d PCA reconstructions differ by.
    """

    network: NetworkConfig = field(default_factory=NetworkConfig)
    observation_std: float = 1.0
    residual_from_mean: bool = False
    linear_path: bool = False
    likelihood: str = "gaussian"

    def __post_init__(self) -> None:
        if isinstance(self.network, dict):
            object.__setattr__(self, "network", NetworkConfig.from_dict(self.network))
        if self.observation_std <= 0:
            raise ValueError(f"observation_std must be positive, got {self.observation_std}")
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        if self.likelihood == "bernoulli":
            if self.residual_from_mean or self.linear_path:
                raise ValueError(
                    "likelihood 'bernoulli' cannot be combined with residual_from_mean or linear_path (they "
                    "parametrise a Gaussian mean as training mean + residual); set both to false"
                )
            if self.network.output_activation != "sigmoid":
                raise ValueError(
                    "likelihood 'bernoulli' needs network.output_activation 'sigmoid' (the decoder's mean is "
                    f"sigmoid(logits), in [0, 1]), got {self.network.output_activation!r}"
                )
        if self.residual_from_mean and self.network.output_activation != "identity":
            raise ValueError(
                "residual_from_mean needs network.output_activation 'identity' (the decoder outputs a "
                f"signed residual added to the training mean), got {self.network.output_activation!r}"
            )
        if self.linear_path and not self.residual_from_mean:
            raise ValueError("linear_path needs residual_from_mean: true (the linear path models the residual from the mean)")

    def to_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["network"] = self.network.to_dict()
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]):
        return config_from_dict(cls, dict(values))


@dataclass
class ModelOutput:
    """What a forward pass returns.

    Attributes:
        loss: -mean(elbo), the scalar to minimise.
        elbo: per-sample ELBO estimate, (B,).
        terms: per-sample terms of the ELBO, name -> (B,); see each model's docstring for signs.
        z: the latent code decoded for the reconstruction, (B, d).
        reconstruction: E[x|z] = :meth:`VAE.decode` (z) (the Gaussian mean, or sigmoid(logits) for a
            Bernoulli decoder), (B, C, *S).
    """

    loss: Tensor
    elbo: Tensor
    terms: dict[str, Tensor]
    z: Tensor
    reconstruction: Tensor


class VAE(nn.Module):
    """Vanilla VAE: ``encode`` (B, C, *S) -> (mean, log_var) (B, d); ``decode`` (B, d) -> (B, C, *S).

    ``forward(x)`` returns a :class:`ModelOutput` with terms ``reconstruction`` (log p(x|z)) and
    ``kl`` (KL(q(z|x) || N(0, I))); ELBO = reconstruction - kl.
    """

    model_type = "vae"
    config_class = VAEConfig

    def __init__(self, config: VAEConfig | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else self.config_class()
        self.encoder = build_encoder(self.config.network)
        self.decoder = build_decoder(self._decoder_network_config())
        self.register_buffer("data_mean", torch.zeros(self.config.network.in_shape))
        if self.config.linear_path:
            d, features = self.config.network.latent_size, self.config.network.in_features
            self.linear_decoder_weight = nn.Parameter(torch.zeros(d, features))
            self.linear_encoder_weight = nn.Parameter(torch.zeros(d, features))
            self.linear_log_var_bias = nn.Parameter(torch.zeros(d))

    def prepare_for_training(self, data: Tensor, linear_start: PPCAFit | None = None) -> None:
        """Set what the model takes from its training set before the first step: (N, C, *S).

        With ``residual_from_mean`` this is the voxel-wise mean image ``data_mean`` (C, *S);
        with ``linear_path`` also the PPCA initialisation of the linear path (``linear_start``
        when given, e.g. components shared with other labels,
        :func:`~medaug.models.ppca.fit_shared_ppca`; else the PPCA of ``data``), and zero output
        layers for the networks; otherwise nothing. Call it once, before training (a resumed run
        restores these from its state).
        """
        if self.config.residual_from_mean:
            if data.shape[0] == 0:
                raise ValueError("cannot take the mean of an empty training set")
            self.check_input(data)
            mean = data.detach().to(self.data_mean.device, torch.float64).mean(0)
            self.data_mean.copy_(mean.to(self.data_mean.dtype))
        if self.config.linear_path:
            self._initialise_linear_path(data, linear_start)
        elif linear_start is not None:
            raise ValueError("linear_start needs linear_path: true")

    @torch.no_grad()
    def _initialise_linear_path(self, data: Tensor, fit: PPCAFit | None) -> None:
        given = fit is not None
        if fit is None:
            fit = fit_ppca(data.detach().to(self.data_mean.device), self.latent_size, self.config.observation_std)
        expected = (self.latent_size, self.config.network.in_features)
        if tuple(fit.decoder_weight.shape) != expected or fit.noise_std != self.config.observation_std:
            raise ValueError(f"linear_start has components {tuple(fit.decoder_weight.shape)} at s = {fit.noise_std}; "
                             f"the model needs {expected} at s = {self.config.observation_std}")
        if given:  # its mean is the label's mean, computed the same way as data_mean
            self.data_mean.copy_(fit.mean.reshape(self.data_mean.shape).to(self.data_mean))
        self.linear_decoder_weight.copy_(fit.decoder_weight)
        self.linear_encoder_weight.copy_(fit.encoder_weight)
        self.linear_log_var_bias.copy_(fit.posterior_variance.log())
        for layer in network_output_layers(self.encoder, self.decoder):
            layer.weight.zero_()
            if layer.bias is not None:
                layer.bias.zero_()

    @property
    def latent_size(self) -> int:
        return self.config.network.latent_size

    def check_input(self, x: Tensor) -> None:
        """Raise ``ValueError`` unless x is a finite (B, C, *S) batch of the configured shape."""
        check_input(x, self.config.network.in_shape)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior parameters: (B, C, *S) -> mean (B, d), log-variance (B, d)."""
        self.check_input(x)
        if self.config.residual_from_mean:
            x = x - self.data_mean
        mean, log_var = self.encoder(x)
        if self.config.linear_path:
            mean = mean + x.flatten(1) @ self.linear_encoder_weight.T
            log_var = log_var + self.linear_log_var_bias
        return mean, log_var

    def _decoder_network_config(self) -> NetworkConfig:
        """The decoder network's config: a Bernoulli decoder network outputs logits (no sigmoid)."""
        if self.config.likelihood == "bernoulli":
            return dataclasses.replace(self.config.network, output_activation="identity")
        return self.config.network

    def decoder_output(self, z: Tensor) -> Tensor:
        """The parameter of p(x|z): the Gaussian mean mu_theta(z), or the Bernoulli logits l_theta(z): (B, d) -> (B, C, *S)."""
        output = self.decoder(z)
        if self.config.linear_path:
            output = output + (z @ self.linear_decoder_weight).reshape(output.shape)
        return output + self.data_mean if self.config.residual_from_mean else output

    def output_mean(self, output: Tensor) -> Tensor:
        """E[x|z] from :meth:`decoder_output`: the mean itself, or sigmoid(logits): (B, C, *S) -> (B, C, *S)."""
        return bernoulli_mean(output) if self.config.likelihood == "bernoulli" else output

    def output_for_mean(self, mean: Tensor) -> Tensor:
        """Inverse of :meth:`output_mean` (Bernoulli: logits of the clamped mean), for a fixed image used as a decoder output."""
        return bernoulli_logits(mean) if self.config.likelihood == "bernoulli" else mean

    def decode(self, z: Tensor) -> Tensor:
        """E[x|z]: mu_theta(z) (Gaussian) or sigmoid(l_theta(z)) in [0, 1] (Bernoulli): (B, d) -> (B, C, *S)."""
        return self.output_mean(self.decoder_output(z))

    def reconstruction_log_likelihood(self, x: Tensor, reconstruction: Tensor) -> Tensor:
        """log p(x|z) given :meth:`decoder_output` (the Gaussian mean, or the Bernoulli logits): (B,)."""
        if self.config.likelihood == "bernoulli":
            return bernoulli_log_likelihood(x, reconstruction)
        return gaussian_log_likelihood(x, reconstruction, self.config.observation_std)

    def forward(self, x: Tensor) -> ModelOutput:
        return self.vae_elbo(x)

    def vae_elbo(self, x: Tensor) -> ModelOutput:
        """The plain VAE bound, log p(x|z) - KL(q(z|x) || N(0, I)), z ~ q(z|x): (B, C, *S).

        Every model of the family shares the generative model p(z) p(x|z) (z ~ N(0, I),
        x|z ~ N(mu_theta(z), s^2 I)) and the encoder q(z|x), so this is a lower bound on the same
        log p(x) for all of them. It does not depend on a latent metric, so it is the
        model-selection criterion: the RHVAE's own bound depends on which codes build the metric
        (a training batch's, or every training code in evaluation mode) and swings by orders of
        magnitude between epochs when computed with the latter.
        """
        mean, log_var = self.encode(x)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        output = self.decoder_output(z)
        log_likelihood = self.reconstruction_log_likelihood(x, output)
        reconstruction = self.output_mean(output)
        kl = 0.5 * (mean.pow(2) + log_var.exp() - 1.0 - log_var).sum(-1)
        elbo = log_likelihood - kl
        return ModelOutput(
            loss=-elbo.mean(),
            elbo=elbo,
            terms={"reconstruction": log_likelihood, "kl": kl},
            z=z,
            reconstruction=reconstruction,
        )

    def fit_metric(self, data: Tensor, batch_size: int = 25) -> None:
        """Build the latent metric from the training set after training; a plain VAE has none."""


def network_output_layers(encoder: nn.Module, decoder: nn.Module) -> list[nn.Module]:
    """The layers whose outputs are the networks' results: the encoder's two heads, the decoder's last layer."""
    last = decoder.output if hasattr(decoder, "output") else decoder.layers[-1]
    return [encoder.mean, encoder.log_var, last]


@torch.no_grad()
def encode_dataset(model: nn.Module, data: Tensor, batch_size: int, with_metric_network: bool = False):
    """Encode a whole data set in eval mode, batch by batch, on the model's device.

    Args:
        model: a VAE-like model with ``encode`` (and ``metric_network`` if asked).
        data: (N, C, *S) on any device.
        batch_size: items per forward pass.
        with_metric_network: also return L_psi(x) (N, d, d).

    Returns:
        means (N, d), log-variances (N, d)[, cholesky (N, d, d)], on the model's device.
    """
    if data.shape[0] == 0:
        raise ValueError("cannot encode an empty data set")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    means, log_vars, factors = [], [], []
    try:
        for start in range(0, data.shape[0], batch_size):
            batch = data[start : start + batch_size].to(device)
            mean, log_var = model.encode(batch)
            means.append(mean)
            log_vars.append(log_var)
            if with_metric_network:
                factors.append(model.metric_network(batch))
    finally:
        model.train(was_training)
    result = (torch.cat(means), torch.cat(log_vars))
    return result + (torch.cat(factors),) if with_metric_network else result
