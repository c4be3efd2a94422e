"""Learned unpaired translation between two surveys: a CycleGAN on galgen's GAN objectives.

Where no physical model of the difference between two image domains is known (a simulation
and a real survey's look: its PSF wings, its noise texture, its artefacts), a pair of
generators ``G_ab: A -> B`` and ``G_ba: B -> A`` is trained from two *unpaired* sets of stamps
(Zhu et al. 2017, arXiv:1703.10593), each judged by a PatchGAN discriminator of its target
domain (:class:`galgen.models.gan.PatchDiscriminator`). Added to the adversarial and cycle
terms of CycleGAN:

* **flux conservation**: the total counts of a translated stamp equal the input's (both
  domains are in the same photometric units);
* **PSF consistency**, when both domains' PSFs are known: the physical translation
  ``T = bin(K * .)`` with the matching kernel ``K`` (``P_a * K = P_b``, see
  :func:`galgen.translate.matching_kernel`) ties the low spatial frequencies of ``G_ab(a)`` to
  ``T(a)`` and asks ``T(G_ba(b))`` to reproduce ``b`` (a data-consistency term).

Domain B's pixels may be ``factor`` (1, 2 or 4) times coarser than A's. Each generator is a
flux-conserving resampling (sum over ``factor x factor`` blocks down, replication divided by
``factor^2`` up) plus a learned residual of the image, plus noise *synthesised* from a white
noise input ``z`` by a separate stationary network (a deterministic generator can only filter
the noise its input already has). The synthesised noise has zero spatial mean, so it adds no
flux, and it does not depend on the image: ``G(x, 0)`` is the mean output ``E_z G(x, z)``
exactly (measured on a first design that fed ``z`` to the image network: its noise added
+38 % to the total flux). Images enter and leave in counts: each generator scales by the noise
rms of its source and target domain (buffers, saved with the weights).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from galgen.errors import GalgenValueError
from galgen.models.gan.networks import PatchDiscriminator

__all__ = ["TranslatorGenerator", "CycleTranslator", "resample_flux", "FACTORS"]

#: domain B's pixel size over domain A's that the generators support
FACTORS = (1, 2, 4)
#: stride-2 steps (halvings) of each factor
_HALVINGS = {1: 0, 2: 1, 4: 2}


def resample_flux(x: Tensor, factor: int, direction: str) -> Tensor:
    """Flux-conserving resampling of ``(B, C, H, W)`` by an integer ``factor``.

    ``down``: sum over ``factor x factor`` blocks (``H`` and ``W`` multiples of ``factor``);
    ``up``: each pixel replicated ``factor x factor`` times, divided by ``factor^2``. Both keep
    the total; ``up`` then ``down`` is the identity.
    """
    if factor == 1:
        return x
    if direction == "down":
        return F.avg_pool2d(x, factor) * factor**2
    return F.interpolate(x, scale_factor=factor, mode="nearest") / factor**2


class _Block(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c, c, 3, padding=1, padding_mode="reflect"),
            nn.SiLU(),
            nn.Conv2d(c, c, 3, padding=1, padding_mode="reflect"),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class TranslatorGenerator(nn.Module):
    """One direction of the translation: counts of one domain to counts of the other.

    Parameters
    ----------
    factor : int, default 1
        Output pixels per input pixel change (1, 2 or 4).
    direction : {"down", "up"}, default "down"
        ``down``: the output's pixels are ``factor`` times larger (A to a coarser B);
        ``up``: smaller (B back to A).
    channels, blocks : int
        Width and residual blocks of the network.
    noise_in, noise_out : float
        Noise rms (counts per pixel) of the source and target domains: the network works in
        those units.

    Notes
    -----
    ``forward(x, z)``: ``x`` ``(B, 1, H, W)`` counts (``H``, ``W`` multiples of ``factor`` for
    ``down``), ``z`` ``(B, 1, H, W)`` standard-normal noise (drawn when omitted; zeros give the
    mean output); returns
    ``(B, 1, H / factor, W / factor)`` (down) or ``(B, 1, factor H, factor W)`` (up) counts.
    """

    def __init__(
        self,
        factor: int = 1,
        direction: str = "down",
        channels: int = 32,
        blocks: int = 4,
        noise_in: float = 1.0,
        noise_out: float = 1.0,
    ) -> None:
        super().__init__()
        if factor not in FACTORS or direction not in ("down", "up"):
            msg = (
                f"factor must be one of {FACTORS} and direction 'down' or 'up' (got {factor}, {direction!r})"
            )
            raise GalgenValueError(msg)
        self.factor, self.direction = factor, direction
        self.register_buffer("noise_in", torch.tensor(float(noise_in)))
        self.register_buffer("noise_out", torch.tensor(float(noise_out)))
        steps = _HALVINGS[factor]
        self.net = self._path(1, channels, blocks, steps, direction)  # the signal: deterministic
        self.noise = self._path(1, channels // 2, 1, steps, direction)  # the synthesised noise, from z only

    @staticmethod
    def _path(c_in: int, channels: int, blocks: int, steps: int, direction: str) -> nn.Sequential:
        layers: list[nn.Module] = [nn.Conv2d(c_in, channels, 3, padding=1, padding_mode="reflect"), nn.SiLU()]
        if direction == "down":
            layers += [m for _ in range(steps) for m in (nn.Conv2d(channels, channels, 4, 2, 1), nn.SiLU())]
        layers += [_Block(channels) for _ in range(blocks)]
        if direction == "up":
            layers += [
                m
                for _ in range(steps)
                for m in (nn.Conv2d(channels, 4 * channels, 3, padding=1), nn.PixelShuffle(2), nn.SiLU())
            ]
        layers.append(nn.Conv2d(channels, 1, 3, padding=1, padding_mode="reflect"))
        nn.init.zeros_(layers[-1].weight)
        nn.init.zeros_(layers[-1].bias)  # starts as the plain flux-conserving resampling
        return nn.Sequential(*layers)

    def forward(self, x: Tensor, z: Tensor | None = None) -> Tensor:
        if z is None:
            z = torch.randn_like(x)
        base = resample_flux(x, self.factor, self.direction) / self.noise_out
        noise = self.noise(z)
        noise = noise - noise.mean(dim=(-2, -1), keepdim=True)  # zero spatial mean: adds no flux
        return (base + self.net(x / self.noise_in) + noise) * self.noise_out


class CycleTranslator(nn.Module):
    """The two generators of a trained translation (what is exported), and, for training, the
    two discriminators.

    Parameters
    ----------
    factor : int
        Domain B's pixel size over domain A's.
    noise_a, noise_b : float
        Each domain's noise rms per pixel (counts).
    channels, blocks : int
        Generator width and depth.
    discriminators : bool, default True
        Build ``d_a`` and ``d_b`` (PatchGANs with spectral norm on noise-scaled images);
        exported models leave them out.
    """

    def __init__(
        self,
        factor: int = 1,
        noise_a: float = 1.0,
        noise_b: float = 1.0,
        channels: int = 32,
        blocks: int = 4,
        discriminators: bool = True,
        disc_width: int = 32,
        disc_layers: int = 3,
    ) -> None:
        super().__init__()
        self.g_ab = TranslatorGenerator(factor, "down", channels, blocks, noise_a, noise_b)
        self.g_ba = TranslatorGenerator(factor, "up", channels, blocks, noise_b, noise_a)
        if discriminators:
            self.d_a = PatchDiscriminator(1, disc_width, disc_layers)
            self.d_b = PatchDiscriminator(1, disc_width, max(1, disc_layers - _HALVINGS[factor]))

    def generators(self) -> list[nn.Module]:
        return [self.g_ab, self.g_ba]

    def discriminators(self) -> list[nn.Module]:
        return [self.d_a, self.d_b]

    def judge(self, domain: str, x: Tensor) -> Tensor:
        """Discriminator logits of domain ``"a"`` or ``"b"`` for counts ``x``."""
        if domain == "a":
            return self.d_a(x / self.g_ab.noise_in)
        return self.d_b(x / self.g_ab.noise_out)
