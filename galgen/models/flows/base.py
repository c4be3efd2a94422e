"""Change of variables: the ``Transform`` contract, chains of transforms, and ``Flow``.

Convention (as in RealNVP): a transform's ``forward`` maps data ``x`` to the
latent ``z`` (the normalising direction) and returns ``log|det dz/dx|``, so

    log p(x) = log N(z; 0, I) + log|det dz/dx|.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["Transform", "Chain", "Flow", "standard_normal_log_prob"]


class Transform(nn.Module):
    """An invertible map with its log-determinant.

    Subclasses implement ``forward(x, context) -> (z, ladj)`` and
    ``inverse(z, context) -> (x, ladj_inverse)`` where ``ladj`` is
    ``log|det dz/dx|`` per sample ``(B,)`` and ``ladj_inverse = -ladj`` at the
    matching point.
    """

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def inverse(self, z: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        raise NotImplementedError


class Chain(Transform):
    """Composition ``t_n o ... o t_1`` of transforms (applied in list order going forward)."""

    def __init__(self, transforms: Sequence[Transform]) -> None:
        super().__init__()
        self.transforms = nn.ModuleList(transforms)

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        total = x.new_zeros(x.shape[0])
        for t in self.transforms:
            x, ladj = t(x, context)
            total = total + ladj
        return x, total

    def inverse(self, z: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        total = z.new_zeros(z.shape[0])
        for t in reversed(self.transforms):
            z, ladj = t.inverse(z, context)
            total = total + ladj
        return z, total


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """``log N(z; 0, I)`` summed over all but the batch dimension, ``(B,)``."""
    flat = z.reshape(z.shape[0], -1)
    return -0.5 * (flat**2).sum(-1) - 0.5 * flat.shape[1] * math.log(2 * math.pi)


class Flow(nn.Module):
    """A normalizing flow: a transform onto a standard normal base.

    Parameters
    ----------
    transform : Transform
        Data -> latent map (often a :class:`Chain`).
    shape : tuple of int
        Shape of one sample, e.g. ``(2,)`` or ``(1, 32, 32)``.

    Examples
    --------
    >>> from galgen.models.flows import affine_coupling_flow
    >>> flow = affine_coupling_flow(features=2, layers=4)
    >>> x = torch.randn(5, 2)
    >>> flow.log_prob(x).shape
    torch.Size([5])
    """

    def __init__(self, transform: Transform, shape: Sequence[int]) -> None:
        super().__init__()
        self.transform = transform
        self.shape = tuple(shape)

    def log_prob(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        """``log p(x)`` per sample, ``(B,)`` in nats."""
        z, ladj = self.transform(x, context)
        return standard_normal_log_prob(z) + ladj

    def sample(self, n: int, context: Tensor | None = None,
               generator: torch.Generator | None = None) -> Tensor:
        """Draw ``n`` samples ``(n, *shape)``."""
        return self.sample_and_log_prob(n, context, generator)[0]

    def sample_and_log_prob(self, n: int, context: Tensor | None = None,
                            generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Samples ``(n, *shape)`` and their ``log p`` ``(n,)`` in one inverse pass."""
        p = next(self.parameters(), None)
        device = p.device if p is not None else torch.device("cpu")
        dtype = p.dtype if p is not None else torch.float32
        z = torch.randn((n, *self.shape), generator=generator, device=device, dtype=dtype)
        if context is not None and context.shape[0] != n:
            context = context.expand(n, *context.shape[1:])
        x, ladj_inv = self.transform.inverse(z, context)
        return x, standard_normal_log_prob(z) - ladj_inv
