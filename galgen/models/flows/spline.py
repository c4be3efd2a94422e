"""Rational-quadratic neural spline coupling (Durkan et al. 2019, arXiv:1906.04032)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from galgen.models.flows.base import Transform
from galgen.models.nn import MLP, fourier_features, fourier_matrix, zero_last_layer

__all__ = ["rational_quadratic_spline", "SplineCoupling"]


def rational_quadratic_spline(x: Tensor, widths: Tensor, heights: Tensor, derivatives: Tensor, *,
                              inverse: bool = False, bound: float = 4.0, min_width: float = 1e-3,
                              min_height: float = 1e-3,
                              min_derivative: float = 1e-3) -> tuple[Tensor, Tensor]:
    """Monotonic rational-quadratic spline on ``[-bound, bound]``, identity outside.

    Parameters
    ----------
    x : Tensor
        ``(...)`` inputs.
    widths, heights : Tensor
        ``(..., K)`` unnormalised bin widths and heights (softmax-normalised here).
    derivatives : Tensor
        ``(..., K-1)`` unnormalised derivatives at the interior knots
        (``softplus``; zero gives slope 1). The boundary slopes are 1, matching
        the identity tails.
    inverse : bool
        Evaluate the inverse map.

    Returns
    -------
    y : Tensor
        ``(...)`` outputs.
    ladj : Tensor
        ``(...)`` ``log|dy/dx|`` elementwise (of the map evaluated).
    """
    inside = (x > -bound) & (x < bound)
    y = x.clone()
    ladj = torch.zeros_like(x)
    if not inside.any():
        return y, ladj
    xin = x[inside]
    k = widths.shape[-1]
    cw, w = _knots(widths[inside], min_width, bound)
    ch, h = _knots(heights[inside], min_height, bound)
    const = math.log(math.expm1(1 - min_derivative))  # softplus(const) + min = 1
    d = min_derivative + F.softplus(F.pad(derivatives[inside], (1, 1)) + const)
    d = torch.cat([torch.ones_like(d[..., :1]), d[..., 1:-1], torch.ones_like(d[..., :1])], -1)

    knots = ch if inverse else cw
    locations = knots.clone()
    locations[..., -1] += 1e-6
    idx = (xin[..., None] >= locations).sum(-1, keepdim=True) - 1
    idx = idx.clamp(0, k - 1)
    x_k, w_k = cw.gather(-1, idx)[..., 0], w.gather(-1, idx)[..., 0]
    y_k, h_k = ch.gather(-1, idx)[..., 0], h.gather(-1, idx)[..., 0]
    s_k = h_k / w_k
    d_k, d_k1 = d.gather(-1, idx)[..., 0], d[..., 1:].gather(-1, idx)[..., 0]
    if inverse:
        a = (xin - y_k) * (d_k + d_k1 - 2 * s_k) + h_k * (s_k - d_k)
        b = h_k * d_k - (xin - y_k) * (d_k + d_k1 - 2 * s_k)
        c = -s_k * (xin - y_k)
        disc = (b**2 - 4 * a * c).clamp_min(0)
        theta = (2 * c) / (-b - torch.sqrt(disc))
        out = theta * w_k + x_k
    else:
        theta = (xin - x_k) / w_k
        num = h_k * (s_k * theta**2 + d_k * theta * (1 - theta))
        den = s_k + (d_k + d_k1 - 2 * s_k) * theta * (1 - theta)
        out = y_k + num / den
    tomt = theta * (1 - theta)
    den = s_k + (d_k + d_k1 - 2 * s_k) * tomt
    deriv = s_k**2 * (d_k1 * theta**2 + 2 * s_k * tomt + d_k * (1 - theta) ** 2)
    logabs = torch.log(deriv) - 2 * torch.log(den)  # log dy/dx of the forward spline
    y[inside] = out
    ladj[inside] = -logabs if inverse else logabs
    return y, ladj


def _knots(unnormalised: Tensor, min_size: float, bound: float) -> tuple[Tensor, Tensor]:
    """Knot positions ``(..., K+1)`` on ``[-bound, bound]`` and bin sizes ``(..., K)``, each bin
    at least ``min_size`` of the interval (softmax-normalised)."""
    k = unnormalised.shape[-1]
    size = min_size + (1 - min_size * k) * F.softmax(unnormalised, dim=-1)
    knots = 2 * bound * F.pad(torch.cumsum(size, -1), (1, 0)) - bound
    knots = torch.cat([knots[..., :1].clamp(-bound, -bound), knots[..., 1:-1],
                       knots[..., -1:].clamp(bound, bound)], dim=-1)
    return knots, knots[..., 1:] - knots[..., :-1]


class SplineCoupling(Transform):
    """Coupling layer whose element-wise transform is a rational-quadratic spline.

    Parameters
    ----------
    mask : Tensor
        ``(D,)`` bool, features passed through (and fed to the conditioner).
    bins : int, default 8
        Spline bins ``K``.
    bound : float, default 4.0
        Spline interval ``[-bound, bound]``; identity outside.
    hidden : sequence of int, default (64, 64)
        Conditioner MLP widths.
    context : int, default 0
        Context vector size.
    fourier_features : int, default 0
        Random Fourier features of the conditioning half fed to the conditioner beside it
        (``sin, cos`` of ``x_a B``, ``B`` drawn once from ``N(0, fourier_scale^2)``, seed 0,
        saved as a buffer; Tancik et al. 2020): sharper splines for the same MLP.
    fourier_scale : float, default 1
        Their frequency scale, in radians per unit of ``x``.
    """

    def __init__(self, mask: Tensor, bins: int = 8, bound: float = 4.0,
                 hidden: Sequence[int] = (64, 64), context: int = 0, fourier_features: int = 0,
                 fourier_scale: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("mask", mask.bool())
        n_a = int(mask.sum())
        self.n_b = mask.numel() - n_a
        self.bins, self.bound = bins, bound
        self.register_buffer("fourier", fourier_matrix(n_a, fourier_features, fourier_scale))
        inputs = n_a + 2 * fourier_features + context
        self.net = zero_last_layer(MLP(inputs, self.n_b * (3 * bins - 1), hidden))

    def _spline(self, v: Tensor, cond: Tensor, context: Tensor | None,
                inverse: bool) -> tuple[Tensor, Tensor]:
        extra = fourier_features(cond, self.fourier) + ([] if context is None else [context])
        h = torch.cat([cond, *extra], dim=-1) if extra else cond
        p = self.net(h).view(-1, self.n_b, 3 * self.bins - 1)
        k = self.bins
        return rational_quadratic_spline(v, p[..., :k], p[..., k:2 * k], p[..., 2 * k:],
                                         inverse=inverse, bound=self.bound)

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        y_b, ladj = self._spline(x[:, ~self.mask], x[:, self.mask], context, inverse=False)
        z = x.clone()
        z[:, ~self.mask] = y_b
        return z, ladj.sum(-1)

    def inverse(self, z: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x_b, ladj = self._spline(z[:, ~self.mask], z[:, self.mask], context, inverse=True)
        x = z.clone()
        x[:, ~self.mask] = x_b
        return x, ladj.sum(-1)
