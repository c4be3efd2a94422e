"""Affine coupling (RealNVP, Dinh et al. 2017, arXiv:1605.08803)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from galgen.models.flows.base import Transform
from galgen.models.nn import MLP, zero_last_layer

__all__ = ["AffineCoupling", "alternating_masks"]


def alternating_masks(features: int, layers: int) -> list[Tensor]:
    """Masks ``[1,0,1,0...]``, ``[0,1,0,1...]``, ... alternating layer by layer."""
    base = torch.arange(features) % 2 == 0
    return [base if i % 2 == 0 else ~base for i in range(layers)]


class AffineCoupling(Transform):
    """``z_B = x_B * exp(s(x_A, c)) + t(x_A, c)``, ``z_A = x_A``.

    ``A`` are the features where ``mask`` is True. The log-scale is soft-clamped
    to ``(-clamp, clamp)`` with a tanh for stability.

    Parameters
    ----------
    mask : Tensor
        ``(D,)`` bool, the features passed through unchanged.
    hidden : sequence of int, default (64, 64)
        Hidden widths of the conditioner MLP.
    context : int, default 0
        Size of the context vector (0 for none).
    clamp : float, default 3.0
        Bound on ``|s|``.
    """

    def __init__(self, mask: Tensor, hidden: Sequence[int] = (64, 64), context: int = 0,
                 clamp: float = 3.0) -> None:
        super().__init__()
        self.register_buffer("mask", mask.bool())
        n_a = int(mask.sum())
        n_b = mask.numel() - n_a
        self.clamp = clamp
        self.net = zero_last_layer(MLP(n_a + context, 2 * n_b, hidden))

    def _params(self, x_a: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        h = x_a if context is None else torch.cat([x_a, context], dim=-1)
        shift, raw = self.net(h).chunk(2, dim=-1)
        return shift, self.clamp * torch.tanh(raw / self.clamp)

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x_a, x_b = x[:, self.mask], x[:, ~self.mask]
        shift, log_scale = self._params(x_a, context)
        z = x.clone()
        z[:, ~self.mask] = x_b * torch.exp(log_scale) + shift
        return z, log_scale.sum(-1)

    def inverse(self, z: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        z_a, z_b = z[:, self.mask], z[:, ~self.mask]
        shift, log_scale = self._params(z_a, context)
        x = z.clone()
        x[:, ~self.mask] = (z_b - shift) * torch.exp(-log_scale)
        return x, -log_scale.sum(-1)
