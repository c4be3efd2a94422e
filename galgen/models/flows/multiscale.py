"""Multi-scale image flow (Glow-style squeeze + split; Dinh et al. 2017, Kingma & Dhariwal 2018).

Each scale: squeeze ``(C, H, W) -> (4C, H/2, W/2)``, ``depth`` steps of
[ActNorm, channel reversal, affine coupling with a small CNN], then half of the
channels are factored out to the Gaussian base and the rest go on to the next
scale. The transform outputs a flat latent ``(B, C*H*W)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from galgen.models.flows.base import Transform
from galgen.models.flows.layers import ActNorm, Permutation
from galgen.models.nn import zero_last_layer

__all__ = ["squeeze", "unsqueeze", "ConvAffineCoupling", "MultiscaleImageTransform"]


def squeeze(x: Tensor) -> Tensor:
    """``(B, C, H, W) -> (B, 4C, H/2, W/2)`` space-to-depth."""
    b, c, h, w = x.shape
    x = x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(b, 4 * c, h // 2, w // 2)


def unsqueeze(x: Tensor) -> Tensor:
    """Inverse of :func:`squeeze`."""
    b, c, h, w = x.shape
    x = x.view(b, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(b, c // 4, 2 * h, 2 * w)


class ConvAffineCoupling(Transform):
    """Affine coupling on channel halves of ``(B, C, H, W)`` with a 3-layer CNN conditioner."""

    def __init__(self, channels: int, hidden: int = 64, clamp: float = 3.0) -> None:
        super().__init__()
        self.n_a = channels // 2
        n_b = channels - self.n_a
        self.clamp = clamp
        self.net = zero_last_layer(nn.Sequential(
            nn.Conv2d(self.n_a, hidden, 3, padding=1), nn.SiLU(),
            nn.Conv2d(hidden, hidden, 1), nn.SiLU(),
            nn.Conv2d(hidden, 2 * n_b, 3, padding=1),
        ))

    def _params(self, x_a: Tensor) -> tuple[Tensor, Tensor]:
        shift, raw = self.net(x_a).chunk(2, dim=1)
        return shift, self.clamp * torch.tanh(raw / self.clamp)

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x_a, x_b = x[:, :self.n_a], x[:, self.n_a:]
        shift, log_scale = self._params(x_a)
        z = torch.cat([x_a, x_b * torch.exp(log_scale) + shift], dim=1)
        return z, log_scale.flatten(1).sum(-1)

    def inverse(self, z: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        z_a, z_b = z[:, :self.n_a], z[:, self.n_a:]
        shift, log_scale = self._params(z_a)
        x = torch.cat([z_a, (z_b - shift) * torch.exp(-log_scale)], dim=1)
        return x, -log_scale.flatten(1).sum(-1)


class MultiscaleImageTransform(Transform):
    """Images ``(B, C, H, W)`` -> flat latents ``(B, C*H*W)``.

    Parameters
    ----------
    shape : (C, H, W)
        Image shape; ``H`` and ``W`` divisible by ``2**scales``.
    scales : int, default 3
        Number of squeeze/split levels.
    depth : int, default 4
        Flow steps per scale.
    hidden : int, default 64
        Conditioner CNN width.
    """

    def __init__(self, shape: tuple[int, int, int], scales: int = 3, depth: int = 4,
                 hidden: int = 64) -> None:
        super().__init__()
        c, h, w = shape
        self.shape = shape
        self.levels = nn.ModuleList()
        self.split_channels: list[int] = []
        for level in range(scales):
            c = 4 * c
            steps = []
            for _ in range(depth):
                steps += [ActNorm(c), Permutation(c), ConvAffineCoupling(c, hidden)]
            self.levels.append(nn.ModuleList(steps))
            last = level == scales - 1
            self.split_channels.append(0 if last else c // 2)
            if not last:
                c = c - c // 2

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        total = x.new_zeros(x.shape[0])
        out = []
        for steps, split in zip(self.levels, self.split_channels, strict=True):
            x = squeeze(x)
            for t in steps:
                x, ladj = t(x)
                total = total + ladj
            if split:
                out.append(x[:, :split].flatten(1))
                x = x[:, split:]
        out.append(x.flatten(1))
        return torch.cat(out, dim=1), total

    def inverse(self, z: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        b = z.shape[0]
        c, h, w = self.shape
        # shapes of each level's factored-out block and of the final block
        shapes = []
        for split in self.split_channels:
            c, h, w = 4 * c, h // 2, w // 2
            if split:
                shapes.append((split, h, w))
                c = c - split
        final = (c, h, w)
        sizes = [s[0] * s[1] * s[2] for s in shapes] + [final[0] * final[1] * final[2]]
        pieces = list(torch.split(z, sizes, dim=1))
        x = pieces[-1].view(b, *final)
        total = z.new_zeros(b)
        k = len(shapes)
        for steps, split in zip(reversed(self.levels), reversed(self.split_channels), strict=True):
            if split:
                k -= 1
                x = torch.cat([pieces[k].view(b, *shapes[k]), x], dim=1)
            for t in reversed(steps):
                x, ladj = t.inverse(x)
                total = total + ladj
            x = unsqueeze(x)
        return x, total
