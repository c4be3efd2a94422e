"""GAN objectives as small functions of discriminator logits, and their regularisers.

Notation: ``real`` and ``fake`` are discriminator outputs (logits or critic
values) ``(B, ...)`` on data and on generated samples. Each loss is a scalar
to *minimise*.

References
----------
Goodfellow et al. 2014 (arXiv:1406.2661): minimax and non-saturating losses.
Mao et al. 2017 (arXiv:1611.04076): least squares. Lim & Ye 2017 (arXiv:1705.02894): hinge.
Arjovsky et al. 2017 (arXiv:1701.07875): Wasserstein with weight clipping.
Gulrajani et al. 2017 (arXiv:1704.00028): gradient penalty (WGAN-GP).
Jolicoeur-Martineau 2018 (arXiv:1807.00734), Wang et al. 2018 ESRGAN: relativistic average.
Mescheder et al. 2018 (arXiv:1801.04406): R1 penalty. Miyato et al. 2018: spectral norm.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from galgen.errors import GalgenValueError

__all__ = [
    "GAN_LOSSES",
    "discriminator_loss",
    "generator_loss",
    "gradient_penalty",
    "r1_penalty",
    "clip_weights",
    "spectral_norm_all",
]

#: names accepted by :func:`discriminator_loss` and :func:`generator_loss`
GAN_LOSSES = ("minimax", "nonsaturating", "lsgan", "hinge", "wgan", "wgan-gp", "relativistic")


def discriminator_loss(real: Tensor, fake: Tensor, kind: str) -> Tensor:
    """The discriminator's (critic's) loss.

    ``minimax``/``nonsaturating``: ``-log D(x) - log(1 - D(G(z)))`` with
    ``D = sigmoid(logit)``; ``lsgan``: ``(D(x)-1)^2 + D(G(z))^2`` (halved);
    ``hinge``: ``relu(1 - D(x)) + relu(1 + D(G(z)))``; ``wgan``/``wgan-gp``:
    ``D(G(z)) - D(x)`` (add :func:`gradient_penalty` or :func:`clip_weights`);
    ``relativistic``: BCE of ``D(x) - mean D(G(z))`` against 1 and of
    ``D(G(z)) - mean D(x)`` against 0.
    """
    if kind in ("minimax", "nonsaturating"):
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    if kind == "lsgan":
        return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean()
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    if kind in ("wgan", "wgan-gp"):
        return fake.mean() - real.mean()
    if kind == "relativistic":
        return F.softplus(-(real - fake.mean())).mean() + F.softplus(fake - real.mean()).mean()
    msg = f"unknown GAN loss {kind!r}; choose one of {GAN_LOSSES}"
    raise GalgenValueError(msg)


def generator_loss(fake: Tensor, kind: str, real: Tensor | None = None) -> Tensor:
    """The generator's loss.

    ``minimax``: ``log(1 - D(G(z)))`` (saturates when D wins: the original
    game); ``nonsaturating``: ``-log D(G(z))``; ``lsgan``: ``(D(G(z))-1)^2``
    (halved); ``hinge``/``wgan``/``wgan-gp``: ``-D(G(z))``; ``relativistic``
    (needs ``real``): the discriminator's loss with the roles swapped.
    """
    if kind == "minimax":
        return -F.softplus(fake).mean()  # log(1 - sigmoid(l)) = -softplus(l)
    if kind == "nonsaturating":
        return F.softplus(-fake).mean()
    if kind == "lsgan":
        return 0.5 * ((fake - 1) ** 2).mean()
    if kind in ("hinge", "wgan", "wgan-gp"):
        return -fake.mean()
    if kind == "relativistic":
        if real is None:
            msg = "the relativistic generator loss needs the discriminator's output on real data"
            raise GalgenValueError(msg)
        return F.softplus(-(fake - real.mean())).mean() + F.softplus(real - fake.mean()).mean()
    msg = f"unknown GAN loss {kind!r}; choose one of {GAN_LOSSES}"
    raise GalgenValueError(msg)


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor,
                     generator: torch.Generator | None = None) -> Tensor:
    """WGAN-GP penalty ``E[(||grad D(x_hat)||_2 - 1)^2]`` on random interpolates ``x_hat``."""
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    alpha = torch.rand(shape, generator=generator, device=real.device, dtype=real.dtype)
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    out = critic(x_hat)
    grad = torch.autograd.grad(out.sum(), x_hat, create_graph=True)[0]
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def r1_penalty(critic: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    """R1 penalty ``E[||grad D(x)||^2]`` on real data (multiply by gamma/2)."""
    x = real.detach().requires_grad_(True)
    grad = torch.autograd.grad(critic(x).sum(), x, create_graph=True)[0]
    return grad.flatten(1).pow(2).sum(1).mean()


@torch.no_grad()
def clip_weights(module: nn.Module, c: float = 0.01) -> None:
    """Clip every parameter to ``[-c, c]`` (the original WGAN's Lipschitz constraint)."""
    for p in module.parameters():
        p.clamp_(-c, c)


def spectral_norm_all(module: nn.Module) -> nn.Module:
    """Apply spectral normalisation to every Linear and Conv2d layer (in place)."""
    from torch.nn.utils.parametrizations import spectral_norm

    for name, child in list(module.named_children()):
        if isinstance(child, nn.Linear | nn.Conv2d):
            setattr(module, name, spectral_norm(child))
        else:
            spectral_norm_all(child)
    return module
