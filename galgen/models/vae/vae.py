"""Variational autoencoders (Kingma & Welling 2014, arXiv:1312.6114), beta-VAE, conditional
VAE, and the importance-weighted bound (IWAE; Burda et al. 2016, arXiv:1509.00519)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from galgen.errors import GalgenValueError
from galgen.models.nn import MLP

__all__ = [
    "gaussian_kl",
    "GaussianEncoder",
    "ConvEncoder",
    "MLPDecoder",
    "ConvDecoder",
    "VAE",
    "mlp_vae",
    "conv_vae",
]

_LOG2PI = math.log(2 * math.pi)


def gaussian_kl(mu: Tensor, log_var: Tensor) -> Tensor:
    """``KL(N(mu, diag exp(log_var)) || N(0, I))`` per sample ``(B,)``, analytic."""
    return 0.5 * (mu**2 + log_var.exp() - 1 - log_var).sum(-1)


class GaussianEncoder(nn.Module):
    """MLP encoder ``q(z | x, c) = N(mu, diag sigma^2)`` for vectors ``(B, D)``."""

    def __init__(self, features: int, latent: int, hidden: Sequence[int] = (128, 128),
                 context: int = 0) -> None:
        super().__init__()
        self.net = MLP(features + context, 2 * latent, hidden)

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        h = x.flatten(1) if context is None else torch.cat([x.flatten(1), context], -1)
        mu, log_var = self.net(h).chunk(2, -1)
        return mu, log_var.clamp(-12, 8)


class ConvEncoder(nn.Module):
    """Convolutional encoder for ``(B, C, S, S)`` stamps (S divisible by 8)."""

    def __init__(self, channels: int, size: int, latent: int, width: int = 32,
                 context: int = 0) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.SiLU(),          # (B, w, S/2, S/2)
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.SiLU(),         # (B, 2w, S/4, S/4)
            nn.Conv2d(2 * width, 4 * width, 4, 2, 1), nn.SiLU(),     # (B, 4w, S/8, S/8)
        )
        self.head = MLP(4 * width * (size // 8) ** 2 + context, 2 * latent, (256,))

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        h = self.conv(x).flatten(1)
        if context is not None:
            h = torch.cat([h, context], -1)
        mu, log_var = self.head(h).chunk(2, -1)
        return mu, log_var.clamp(-12, 8)


class _Likelihood(nn.Module):
    """Decoder likelihoods: ``gaussian`` (learned or fixed variance, or a noise map) or ``bernoulli``."""

    def __init__(self, likelihood: str, shape: Sequence[int], learn_variance: bool,
                 fixed_std: float) -> None:
        super().__init__()
        if likelihood not in ("gaussian", "bernoulli"):
            msg = f"likelihood must be 'gaussian' or 'bernoulli', got {likelihood!r}"
            raise GalgenValueError(msg)
        self.likelihood = likelihood
        self.shape = tuple(shape)
        self.learn_variance = learn_variance
        self.log_std = nn.Parameter(torch.full((1,), math.log(fixed_std)),
                                    requires_grad=learn_variance)

    def log_likelihood(self, x: Tensor, out: Tensor, noise_std: Tensor | None = None) -> Tensor:
        """``log p(x | z)`` per sample; ``out`` is the mean (Gaussian) or logits (Bernoulli).

        ``noise_std`` (broadcastable to ``x``) replaces the decoder's own standard
        deviation: a per-pixel noise map makes the likelihood noise-aware.
        """
        if self.likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(out, x, reduction="none").flatten(1).sum(-1)
        log_std = self.log_std if noise_std is None else torch.log(noise_std).expand_as(x)
        ll = -0.5 * ((x - out) * torch.exp(-log_std)) ** 2 - log_std - 0.5 * _LOG2PI
        return ll.expand_as(x).flatten(1).sum(-1)

    def mean(self, out: Tensor) -> Tensor:
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out


class MLPDecoder(_Likelihood):
    """MLP decoder ``p(x | z, c)`` for vectors."""

    def __init__(self, latent: int, features: int, hidden: Sequence[int] = (128, 128),
                 context: int = 0, likelihood: str = "gaussian", learn_variance: bool = True,
                 fixed_std: float = 0.1) -> None:
        super().__init__(likelihood, (features,), learn_variance, fixed_std)
        self.net = MLP(latent + context, features, hidden)

    def forward(self, z: Tensor, context: Tensor | None = None) -> Tensor:
        h = z if context is None else torch.cat([z, context], -1)
        return self.net(h)


class ConvDecoder(_Likelihood):
    """Transposed-convolution decoder to ``(B, C, S, S)`` stamps."""

    def __init__(self, latent: int, channels: int, size: int, width: int = 32, context: int = 0,
                 likelihood: str = "gaussian", learn_variance: bool = True,
                 fixed_std: float = 0.1) -> None:
        super().__init__(likelihood, (channels, size, size), learn_variance, fixed_std)
        self.width, self.s8 = width, size // 8
        self.fc = MLP(latent + context, 4 * width * self.s8**2, (256,))
        self.deconv = nn.Sequential(
            nn.SiLU(),
            nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1), nn.SiLU(),   # (B, 2w, S/4, S/4)
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.SiLU(),       # (B, w, S/2, S/2)
            nn.ConvTranspose2d(width, channels, 4, 2, 1),                   # (B, C, S, S)
        )

    def forward(self, z: Tensor, context: Tensor | None = None) -> Tensor:
        h = z if context is None else torch.cat([z, context], -1)
        h = self.fc(h).view(-1, 4 * self.width, self.s8, self.s8)
        return self.deconv(h)


class VAE(nn.Module):
    """Variational autoencoder with a Gaussian encoder and any galgen decoder.

    Parameters
    ----------
    encoder : GaussianEncoder or ConvEncoder
        Returns ``(mu, log_var)`` ``(B, L)`` each.
    decoder : MLPDecoder or ConvDecoder
        Returns the likelihood's mean or logits.
    latent : int
        Latent size ``L``.
    beta : float, default 1.0
        Weight of the KL term (beta-VAE; Higgins et al. 2017). ``beta=1`` is the ELBO.
    """

    def __init__(self, encoder: nn.Module, decoder: _Likelihood, latent: int,
                 beta: float = 1.0) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.latent, self.beta = latent, beta

    def elbo(self, x: Tensor, context: Tensor | None = None, noise_std: Tensor | None = None,
             beta: float | None = None) -> Tensor:
        """Per-sample ``E_q[log p(x|z)] - beta KL(q || p)`` ``(B,)``, one reparameterised sample."""
        beta = self.beta if beta is None else beta
        mu, log_var = self.encoder(x, context)
        z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)  # reparameterisation trick
        rec = self.decoder.log_likelihood(x, self.decoder(z, context), noise_std)
        return rec - beta * gaussian_kl(mu, log_var)

    def iwae(self, x: Tensor, k: int = 16, context: Tensor | None = None,
             noise_std: Tensor | None = None) -> Tensor:
        """Importance-weighted bound ``log (1/k) sum_i p(x, z_i) / q(z_i | x)`` ``(B,)``.

        ``k = 1`` is the ELBO; the bound tightens towards ``log p(x)`` as ``k`` grows.
        """
        mu, log_var = self.encoder(x, context)
        std = torch.exp(0.5 * log_var)
        eps = torch.randn((k, *mu.shape), device=mu.device, dtype=mu.dtype)
        z = mu + std * eps  # (k, B, L)
        flat = z.reshape(-1, self.latent)
        xs = x.expand(k, *x.shape).reshape(-1, *x.shape[1:])
        ctx = None if context is None else context.expand(k, *context.shape).reshape(-1, context.shape[-1])
        ns = None
        if noise_std is not None and noise_std.dim() == x.dim():
            ns = noise_std.expand(k, *noise_std.shape).reshape(-1, *noise_std.shape[1:])
        elif noise_std is not None:
            ns = noise_std
        log_px_z = self.decoder.log_likelihood(xs, self.decoder(flat, ctx), ns).view(k, -1)
        log_pz = (-0.5 * z**2 - 0.5 * _LOG2PI).sum(-1)
        log_qz = (-0.5 * eps**2 - 0.5 * _LOG2PI - torch.log(std)).sum(-1)
        return torch.logsumexp(log_px_z + log_pz - log_qz, dim=0) - math.log(k)

    @torch.no_grad()
    def sample(self, n: int, context: Tensor | None = None,
               generator: torch.Generator | None = None, mean: bool = True) -> Tensor:
        """Decode ``n`` prior draws; the likelihood's mean, or a draw from it if ``mean=False``."""
        p = next(self.parameters())
        z = torch.randn((n, self.latent), generator=generator, device=p.device, dtype=p.dtype)
        out = self.decoder(z, context)
        mu = self.decoder.mean(out)
        if mean:
            return mu
        if self.decoder.likelihood == "bernoulli":
            return torch.bernoulli(mu, generator=generator)
        return mu + torch.exp(self.decoder.log_std) * torch.randn(
            mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)

    @torch.no_grad()
    def reconstruct(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        """Decoder mean at the encoder mean."""
        mu, _ = self.encoder(x, context)
        return self.decoder.mean(self.decoder(mu, context))


def mlp_vae(features: int = 2, latent: int = 2, hidden: Sequence[int] = (128, 128),
            context: int = 0, likelihood: str = "gaussian", beta: float = 1.0,
            learn_variance: bool = True, fixed_std: float = 0.1) -> VAE:
    """VAE with MLP encoder and decoder for vectors."""
    return VAE(GaussianEncoder(features, latent, hidden, context),
               MLPDecoder(latent, features, hidden, context, likelihood, learn_variance, fixed_std),
               latent, beta)


def conv_vae(channels: int = 1, size: int = 32, latent: int = 16, width: int = 32,
             context: int = 0, likelihood: str = "gaussian", beta: float = 1.0,
             learn_variance: bool = True, fixed_std: float = 0.1) -> VAE:
    """Convolutional VAE for ``(C, size, size)`` stamps."""
    return VAE(ConvEncoder(channels, size, latent, width, context),
               ConvDecoder(latent, channels, size, width, context, likelihood, learn_variance,
                           fixed_std), latent, beta)
