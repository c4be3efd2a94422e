"""Simple invertible layers: ActNorm and fixed permutations."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from galgen.models.flows.base import Transform

__all__ = ["ActNorm", "Permutation"]


class ActNorm(Transform):
    """Per-channel affine ``z = (x - b) * exp(-s)`` initialised from the first batch (Glow).

    Works on vectors ``(B, D)`` (channels = features) and images ``(B, C, H, W)``.

    Parameters
    ----------
    channels : int
        Features (vectors) or channels (images).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.shift = nn.Parameter(torch.zeros(channels))
        self.log_scale = nn.Parameter(torch.zeros(channels))
        self.register_buffer("initialized", torch.tensor(False))

    def _view(self, p: Tensor, x: Tensor) -> Tensor:
        return p.view(1, -1, *([1] * (x.dim() - 2)))

    def _spatial(self, x: Tensor) -> int:
        return int(torch.tensor(x.shape[2:]).prod()) if x.dim() > 2 else 1

    @torch.no_grad()
    def _init(self, x: Tensor) -> None:
        dims = [d for d in range(x.dim()) if d != 1]
        self.shift.copy_(x.mean(dim=dims))
        self.log_scale.copy_(x.std(dim=dims).clamp_min(1e-6).log())
        self.initialized.fill_(True)

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if self.training and not bool(self.initialized) and x.shape[0] > 1:
            self._init(x)
        z = (x - self._view(self.shift, x)) * torch.exp(-self._view(self.log_scale, x))
        ladj = -self.log_scale.sum() * self._spatial(x)
        return z, ladj.expand(x.shape[0])

    def inverse(self, z: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x = z * torch.exp(self._view(self.log_scale, z)) + self._view(self.shift, z)
        ladj = self.log_scale.sum() * self._spatial(z)
        return x, ladj.expand(z.shape[0])


class Permutation(Transform):
    """Fixed permutation of features/channels (``log|det| = 0``).

    Parameters
    ----------
    channels : int
        Size of the permuted dimension (dim 1).
    kind : {"reverse", "random"}
        Reverse order, or a random permutation drawn from ``generator``.
    """

    def __init__(self, channels: int, kind: str = "reverse",
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        perm = torch.arange(channels - 1, -1, -1) if kind == "reverse" else torch.randperm(
            channels, generator=generator)
        self.register_buffer("perm", perm)
        self.register_buffer("inv_perm", torch.argsort(perm))

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return x[:, self.perm], x.new_zeros(x.shape[0])

    def inverse(self, z: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return z[:, self.inv_perm], z.new_zeros(z.shape[0])
