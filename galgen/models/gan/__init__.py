"""GANs: objectives (minimax, non-saturating, LSGAN, hinge, WGAN, WGAN-GP, relativistic),
regularisers, and generator/discriminator networks."""

from galgen.models.gan.networks import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    PatchDiscriminator,
)
from galgen.models.gan.objectives import (
    GAN_LOSSES,
    clip_weights,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    r1_penalty,
    spectral_norm_all,
)

__all__ = [
    "GAN_LOSSES",
    "discriminator_loss",
    "generator_loss",
    "gradient_penalty",
    "r1_penalty",
    "clip_weights",
    "spectral_norm_all",
    "MLPGenerator",
    "MLPDiscriminator",
    "DCGANGenerator",
    "DCGANDiscriminator",
    "PatchDiscriminator",
]
