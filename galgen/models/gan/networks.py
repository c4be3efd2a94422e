"""Generator and discriminator networks: MLP (vectors), DCGAN (images), PatchGAN."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from galgen.models.gan.objectives import spectral_norm_all
from galgen.models.nn import MLP

__all__ = ["MLPGenerator", "MLPDiscriminator", "DCGANGenerator", "DCGANDiscriminator",
           "PatchDiscriminator"]


class MLPGenerator(nn.Module):
    """``z (B, latent) -> x (B, features)``."""

    def __init__(self, latent: int = 2, features: int = 2, hidden: Sequence[int] = (128, 128, 128)):
        super().__init__()
        self.latent = latent
        self.net = MLP(latent, features, hidden, nn.ReLU)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """``x (B, features) -> logit/critic (B,)``; optional spectral normalisation."""

    def __init__(self, features: int = 2, hidden: Sequence[int] = (128, 128, 128),
                 spectral_norm: bool = False) -> None:
        super().__init__()
        self.net = MLP(features, 1, hidden, lambda: nn.LeakyReLU(0.2))
        if spectral_norm:
            spectral_norm_all(self.net)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)[:, 0]


class DCGANGenerator(nn.Module):
    """DCGAN generator (Radford et al. 2016): ``z -> (B, C, 32, 32)`` stamps."""

    def __init__(self, latent: int = 64, channels: int = 1, width: int = 64) -> None:
        super().__init__()
        self.latent = latent
        self.net = nn.Sequential(
            nn.ConvTranspose2d(latent, 4 * width, 4, 1, 0), nn.BatchNorm2d(4 * width), nn.ReLU(),
            nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, channels, 4, 2, 1),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z[:, :, None, None])  # (B, C, 32, 32)


class DCGANDiscriminator(nn.Module):
    """DCGAN discriminator for ``(B, C, 32, 32)`` -> logit ``(B,)``."""

    def __init__(self, channels: int = 1, width: int = 64, spectral_norm: bool = True) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2),            # (B, w, 16, 16)
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2),           # (B, 2w, 8, 8)
            nn.Conv2d(2 * width, 4 * width, 4, 2, 1), nn.LeakyReLU(0.2),       # (B, 4w, 4, 4)
            nn.Conv2d(4 * width, 1, 4, 1, 0),                                  # (B, 1, 1, 1)
        )
        if spectral_norm:
            spectral_norm_all(self.net)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).flatten()


class PatchDiscriminator(nn.Module):
    """PatchGAN discriminator (Isola et al. 2017): one logit per overlapping patch.

    Parameters
    ----------
    channels : int
        Input channels (e.g. 2 for a conditional GAN fed [observation, image]).
    width : int, default 64
        First layer width.
    layers : int, default 3
        Stride-2 layers; the receptive field grows with each.
    spectral_norm : bool, default True
        Spectral normalisation on every convolution (Miyato et al. 2018).
    """

    def __init__(self, channels: int = 1, width: int = 64, layers: int = 3,
                 spectral_norm: bool = True) -> None:
        super().__init__()
        mods: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        c = width
        for _ in range(layers - 1):
            mods += [nn.Conv2d(c, 2 * c, 4, 2, 1), nn.LeakyReLU(0.2)]
            c *= 2
        mods += [nn.Conv2d(c, c, 3, 1, 1), nn.LeakyReLU(0.2), nn.Conv2d(c, 1, 3, 1, 1)]
        self.net = nn.Sequential(*mods)
        if spectral_norm:
            spectral_norm_all(self.net)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)  # (B, 1, H / 2^layers, W / 2^layers)
