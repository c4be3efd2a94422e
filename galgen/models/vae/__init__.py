"""Variational autoencoders: Gaussian encoders, Gaussian/Bernoulli decoders, ELBO, IWAE."""

from galgen.models.vae.vae import (
    VAE,
    ConvDecoder,
    ConvEncoder,
    GaussianEncoder,
    MLPDecoder,
    conv_vae,
    gaussian_kl,
    mlp_vae,
)

__all__ = [
    "VAE",
    "GaussianEncoder",
    "ConvEncoder",
    "MLPDecoder",
    "ConvDecoder",
    "gaussian_kl",
    "mlp_vae",
    "conv_vae",
]
