"""Small neural-network building blocks shared by galgen's generative models."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["MLP", "FiLM", "zero_last_layer", "fourier_matrix", "fourier_features"]


class MLP(nn.Sequential):
    """Multi-layer perceptron ``in -> hidden... -> out`` with a chosen activation.

    Parameters
    ----------
    in_features, out_features : int
        Input and output sizes.
    hidden : sequence of int, default (64, 64)
        Hidden layer widths.
    activation : type of nn.Module, default nn.SiLU
        Activation between layers (none after the last).
    """

    def __init__(self, in_features: int, out_features: int, hidden: Sequence[int] = (64, 64),
                 activation: type[nn.Module] = nn.SiLU) -> None:
        layers: list[nn.Module] = []
        sizes = [in_features, *hidden, out_features]
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(activation())
        super().__init__(*layers)


class FiLM(nn.Module):
    """Feature-wise linear modulation: ``x * (1 + gamma(c)) + beta(c)`` (Perez et al. 2018).

    Parameters
    ----------
    condition_features : int
        Size of the conditioning vector ``c`` ``(B, condition_features)``.
    channels : int
        Channels of the modulated feature map ``(B, channels, H, W)``.
    """

    def __init__(self, condition_features: int, channels: int, hidden: int = 64) -> None:
        super().__init__()
        self.net = MLP(condition_features, 2 * channels, (hidden,))
        zero_last_layer(self.net)

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        gamma, beta = self.net(condition).chunk(2, dim=-1)  # (B, C) each
        return x * (1 + gamma[..., None, None]) + beta[..., None, None]


def zero_last_layer(module: nn.Module) -> nn.Module:
    """Zero the weights and bias of the last Linear/Conv layer (start as identity/zero map)."""
    last = None
    for m in module.modules():
        if isinstance(m, nn.Linear | nn.Conv2d):
            last = m
    if last is not None:
        with torch.no_grad():
            last.weight.zero_()
            if last.bias is not None:
                last.bias.zero_()
    return module


def fourier_matrix(features: int, n: int, scale: float = 1.0) -> Tensor:
    """``(features, n)`` frequencies of random Fourier features (Tancik et al. 2020,
    arXiv:2006.10739), drawn once from ``N(0, scale^2)`` with seed 0; register it as a buffer so
    that it is saved with the weights. ``n = 0`` gives an empty matrix (no features)."""
    return torch.randn(features, n, generator=torch.Generator().manual_seed(0)) * scale


def fourier_features(x: Tensor, frequencies: Tensor) -> list[Tensor]:
    """``[sin(x B), cos(x B)]``, each ``(B, n)``, for ``x`` ``(B, D)`` and ``B = frequencies``
    ``(D, n)`` (:func:`fourier_matrix`), to concatenate beside ``x``; ``[]`` when ``n = 0``."""
    if not frequencies.shape[1]:
        return []
    p = x @ frequencies
    return [torch.sin(p), torch.cos(p)]
