"""Restoration networks: residual super-resolution generator, U-Net, conditional PatchGAN.

References
----------
Ledig et al. 2017 (SRGAN, arXiv:1609.04802); Lim et al. 2017 (EDSR, arXiv:1707.02921);
Wang et al. 2018 (ESRGAN, arXiv:1809.00219); Isola et al. 2017 (pix2pix, arXiv:1611.07004);
Schawinski et al. 2017 (GalaxyGAN, MNRAS 467 L110); Perez et al. 2018 (FiLM, arXiv:1709.07871).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from galgen.errors import GalgenValueError
from galgen.models.gan.networks import PatchDiscriminator
from galgen.models.nn import FiLM

__all__ = ["RestorerConfig", "ResidualBlock", "ResidualSRNet", "UNetRestorer", "build_generator",
           "conditional_discriminator"]


@dataclass(frozen=True)
class RestorerConfig:
    """Architecture of a restoration generator (saved beside its weights).

    Attributes
    ----------
    arch : {"residual", "unet"}
        Residual super-resolution net working at the input resolution, or U-Net
        (deconvolution at the same scale).
    scale : int
        Output pixels per input pixel along each axis: 1, 2 or 4.
    channels : int
        Feature channels.
    blocks : int
        Residual blocks (``residual``) or U-Net levels (``unet``).
    condition_features : int
        Size of the conditioning vector: the observing PSF FWHM in target pixels / 10.
        The noise level enters through the stretch, which is in units of the noise.
    softening : float
        Asinh stretch softening in noise units (see :class:`galgen.preprocess.AsinhStretch`).
    deconvolved_input : bool
        The input also holds a classical deconvolution of the observation with its PSF,
        folded to the input grid (``scale**2`` more channels,
        :func:`galgen.restoration.inputs.network_input`): the PSF's shape reaches the network.
    """

    arch: str = "residual"
    scale: int = 2
    channels: int = 48
    blocks: int = 8
    condition_features: int = 1
    softening: float = 3.0
    deconvolved_input: bool = False

    @property
    def in_channels(self) -> int:
        """Channels of the network's input."""
        return 1 + (self.scale**2 if self.deconvolved_input else 0)

    def to_dict(self) -> dict:
        """Plain dict (for ``config.json``)."""
        return asdict(self)


class ResidualBlock(nn.Module):
    """conv-act-conv with a FiLM modulation and a scaled residual (no batch norm, as in EDSR)."""

    def __init__(self, channels: int, condition_features: int, res_scale: float = 0.2) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.film = FiLM(condition_features, channels)
        self.res_scale = res_scale

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        h = F.leaky_relu(self.conv1(x), 0.2)
        h = self.film(h, condition)
        return x + self.res_scale * self.conv2(h)


class ResidualSRNet(nn.Module):
    """Residual super-resolution generator conditioned on the observing conditions.

    Works at the *input* resolution and upsamples at the end with pixel
    shuffle (ESPCN/EDSR/SRGAN); predicts a correction to the bicubic upsampling
    of its input. Inputs and outputs are in the asinh-stretched space.

    Parameters
    ----------
    config : RestorerConfig

    Notes
    -----
    ``forward(x, condition)``: ``x`` ``(B, C, H, W)`` stretched observation (channel 0) and,
    with ``deconvolved_input``, the folded classical deconvolution (see
    :func:`galgen.restoration.inputs.network_input`); ``condition`` ``(B, condition_features)``;
    returns ``(B, 1, sH, sW)``.
    The receptive field is ``2 * blocks + 3`` input pixels in radius.
    """

    def __init__(self, config: RestorerConfig) -> None:
        super().__init__()
        if config.scale not in (1, 2, 4):
            msg = f"scale must be 1, 2 or 4, got {config.scale}"
            raise GalgenValueError(msg)
        c = config.channels
        self.config = config
        self.head = nn.Conv2d(config.in_channels, c, 3, padding=1)
        self.body = nn.ModuleList(ResidualBlock(c, config.condition_features)
                                  for _ in range(config.blocks))
        self.body_tail = nn.Conv2d(c, c, 3, padding=1)
        ups: list[nn.Module] = []
        for _ in range({1: 0, 2: 1, 4: 2}[config.scale]):
            ups += [nn.Conv2d(c, 4 * c, 3, padding=1), nn.PixelShuffle(2), nn.LeakyReLU(0.2)]
        self.upsample = nn.Sequential(*ups)
        self.tail = nn.Conv2d(c, 1, 3, padding=1)

    @property
    def receptive_radius(self) -> int:
        """Input pixels on each side that influence one output pixel."""
        return 2 * self.config.blocks + 3 + {1: 0, 2: 1, 4: 2}[self.config.scale] + 2

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        s = self.config.scale
        obs = x[:, :1]
        base = obs if s == 1 else F.interpolate(obs, scale_factor=s, mode="bicubic", align_corners=False)
        h = self.head(x)                                  # (B, C, H, W)
        skip = h
        for block in self.body:
            h = block(h, condition)                       # (B, C, H, W)
        h = self.body_tail(h) + skip
        h = self.upsample(h)                              # (B, C, sH, sW)
        return base + self.tail(h)                        # (B, 1, sH, sW)


class UNetRestorer(nn.Module):
    """pix2pix-style U-Net for deconvolution at the same pixel scale (``scale=1``).

    ``forward(x, condition)``: ``(B, 1, H, W)`` -> ``(B, 1, H, W)``, ``H, W``
    divisible by ``2**blocks``; FiLM conditioning at the bottleneck.
    """

    def __init__(self, config: RestorerConfig) -> None:
        super().__init__()
        if config.deconvolved_input:
            msg = "the U-Net path takes the observation only: set deconvolved_input = false"
            raise GalgenValueError(msg)
        if config.scale != 1:
            msg = "the U-Net path deconvolves at the same scale: use scale=1 (arch='residual' for x2/x4)"
            raise GalgenValueError(msg)
        self.config = config
        c = config.channels
        self.down = nn.ModuleList()
        self.up = nn.ModuleList()
        chans = [1] + [c * 2**i for i in range(config.blocks)]
        for a, b in zip(chans[:-1], chans[1:], strict=True):
            self.down.append(nn.Sequential(nn.Conv2d(a, b, 3, padding=1), nn.LeakyReLU(0.2),
                                           nn.Conv2d(b, b, 3, padding=1), nn.LeakyReLU(0.2)))
        self.film = FiLM(config.condition_features, chans[-1])
        for a, b in zip(reversed(chans[2:]), reversed(chans[1:-1]), strict=True):
            self.up.append(nn.ModuleDict({
                "up": nn.ConvTranspose2d(a, b, 2, stride=2),
                "conv": nn.Sequential(nn.Conv2d(2 * b, b, 3, padding=1), nn.LeakyReLU(0.2)),
            }))
        self.out = nn.Conv2d(chans[1], 1, 1)

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        skips = []
        h = x
        for i, layer in enumerate(self.down):
            h = layer(h if i == 0 else F.avg_pool2d(h, 2))
            skips.append(h)
        h = self.film(h, condition)
        for block, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            h = block["conv"](torch.cat([block["up"](h), skip], dim=1))
        return x + self.out(h)


def build_generator(config: RestorerConfig) -> nn.Module:
    """The generator described by ``config``."""
    if config.arch == "residual":
        return ResidualSRNet(config)
    if config.arch == "unet":
        return UNetRestorer(config)
    msg = f"unknown architecture {config.arch!r}; choose 'residual' or 'unet'"
    raise GalgenValueError(msg)


def conditional_discriminator(width: int = 32, layers: int = 3) -> PatchDiscriminator:
    """PatchGAN with spectral norm judging ``[upsampled observation, image]`` pairs (2 channels)."""
    return PatchDiscriminator(channels=2, width=width, layers=layers, spectral_norm=True)
