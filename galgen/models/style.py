"""Neural style transfer (Gatys et al. 2016) on a multi-scale random-weight CNN.

Gatys, Ecker & Bethge (2016) render the *content* of one image in the *style* of another by
optimising the image itself: its deep features should match the content image's
(content loss) and the Gram matrices of its features, which discard where things are and
keep which textures co-occur, should match the style image's (style loss).

Their features come from an ImageNet-trained VGG network, which cannot be downloaded here
(and knows nothing of galaxies or noise). Textures are captured nearly as well by the
features of *random*, untrained convolutional filters at several scales (Ustyuzhaninov et al.
2017, "What does it take to generate natural textures?", ICLR; He et al. 2016): this module
uses such a network, seeded so that results are reproducible. For astronomical images the
optimisation works in an asinh-stretched space in units of a robust noise estimate, so that
faint textures (noise correlations, low surface-brightness structure) weigh as much as the
bright core, and the result can be rescaled to the content image's flux.

``style_transfer(content, style)`` is the entry point; :class:`RandomFeatures`,
:func:`gram_matrix`, :func:`content_loss` and :func:`style_loss` are its parts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from galgen.errors import GalgenValueError

__all__ = ["RandomFeatures", "gram_matrix", "content_loss", "style_loss", "StyleResult", "style_transfer"]


class RandomFeatures(nn.Module):
    """A frozen multi-scale CNN with random filters: features for texture statistics.

    Parameters
    ----------
    channels : int, default 64
        Filters per layer.
    layers : int, default 4
        Layers; layer ``i`` sees the image average-pooled ``2**i`` times, so deeper layers
        describe larger structures.
    kernel : int, default 5
    seed : int, default 0
        Seeds the filters (drawn once, never trained).

    Notes
    -----
    ``forward(x)``: ``x`` ``(B, 1, H, W)`` -> list of ``layers`` feature maps
    ``(B, channels, H / 2**i, W / 2**i)`` (rectified).
    """

    def __init__(self, channels: int = 64, layers: int = 4, kernel: int = 5, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.convs = nn.ModuleList()
        for i in range(layers):
            conv = nn.Conv2d(1 if i == 0 else channels, channels, kernel, padding=kernel // 2,
                             padding_mode="reflect")
            fan_in = conv.in_channels * kernel * kernel
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
                conv.bias.zero_()
            self.convs.append(conv)
        self.requires_grad_(False)

    def forward(self, x: Tensor) -> list[Tensor]:
        feats = []
        h = x
        for i, conv in enumerate(self.convs):
            if i:
                h = F.avg_pool2d(h, 2)
            h = F.relu(conv(h))
            feats.append(h)
        return feats


def gram_matrix(features: Tensor) -> Tensor:
    """``(B, C, H, W)`` -> ``(B, C, C)`` feature correlations averaged over positions."""
    b, c, h, w = features.shape
    f = features.reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (h * w)


def content_loss(features: list[Tensor], target: list[Tensor], layers: tuple[int, ...] = (1,)) -> Tensor:
    """Mean squared difference of the feature maps at ``layers`` (Gatys et al.'s content term)."""
    return sum(F.mse_loss(features[i], target[i]) for i in layers)


def style_loss(features: list[Tensor], target_grams: list[Tensor]) -> Tensor:
    """Sum over layers of the mean squared difference of Gram matrices, each normalised by the
    target's squared norm (so that every scale counts alike)."""
    total = 0.0
    for f, g in zip(features, target_grams, strict=True):
        total = total + ((gram_matrix(f) - g) ** 2).sum() / (g**2).sum().clamp(min=1e-12)
    return total


def _robust_sigma(image: np.ndarray) -> float:
    """Noise estimate: 1.4826 MAD of the pixels (robust to a galaxy covering a minority of them;
    pixel differences would underestimate correlated noise)."""
    sigma = 1.4826 * np.median(np.abs(image - np.median(image)))
    return float(sigma) if sigma > 0 else float(np.std(image) or 1.0)


@dataclass
class StyleResult:
    """Output of :func:`style_transfer`.

    Attributes
    ----------
    image : numpy.ndarray
        ``(H, W)`` in the content image's units.
    content_loss, style_loss : list of float
        Per recorded step (every ``record_every``), for convergence plots.
    """

    image: np.ndarray
    content_loss: list[float]
    style_loss: list[float]


def style_transfer(content: np.ndarray, style: np.ndarray, *, steps: int = 300, style_weight: float = 1.0,
                   content_weight: float = 1.0, lr: float = 0.05, stretch: bool = True,
                   keep_flux: bool = True, features: RandomFeatures | None = None, seed: int = 0,
                   record_every: int = 10) -> StyleResult:
    """Render ``content`` with the textures of ``style`` (Gatys et al. 2016, random features).

    Parameters
    ----------
    content : numpy.ndarray
        ``(H, W)`` image whose structure is kept.
    style : numpy.ndarray
        ``(h, w)`` image whose texture statistics are imposed (any size).
    steps : int, default 300
        Adam steps on the image.
    style_weight, content_weight : float
        Weights of the two losses.
    lr : float, default 0.05
        Adam learning rate in the (stretched, noise-normalised) image space.
    stretch : bool, default True
        Work on ``asinh(x / (3 sigma))`` with ``sigma`` each image's robust noise (so faint
        textures count); ``False`` works on ``x / std(x)``.
    keep_flux : bool, default True
        Give the result the content image's total flux (a constant added to every pixel).
    features : RandomFeatures, optional
        Feature network (default ``RandomFeatures(seed=seed)``).
    seed : int, default 0
        Seeds the default features and the starting perturbation.
    record_every : int, default 10

    Returns
    -------
    StyleResult
    """
    content = np.asarray(content, np.float64)
    style = np.asarray(style, np.float64)
    for name, arr in (("content", content), ("style", style)):
        if arr.ndim != 2 or not np.all(np.isfinite(arr)):
            msg = f"the {name} image must be a finite 2-D array, got shape {arr.shape}; fill bad pixels first"
            raise GalgenValueError(msg)
        if min(arr.shape) < 16:
            msg = f"the {name} image is {arr.shape}: style transfer needs at least 16 x 16 pixels"
            raise GalgenValueError(msg)
    c_unit = 3 * _robust_sigma(content) if stretch else float(content.std() or 1.0)
    s_unit = 3 * _robust_sigma(style) if stretch else float(style.std() or 1.0)

    def forward_map(x: np.ndarray, unit: float) -> Tensor:
        y = np.arcsinh(x / unit) if stretch else x / unit
        return torch.from_numpy(y.astype(np.float32))[None, None]

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = features or RandomFeatures(seed=seed)
        c_t, s_t = forward_map(content, c_unit), forward_map(style, s_unit)
        with torch.no_grad():
            c_feats = net(c_t)
            s_grams = [gram_matrix(f) for f in net(s_t)]
        x = (c_t + 0.01 * torch.randn_like(c_t)).requires_grad_(True)
        opt = torch.optim.Adam([x], lr=lr)
        c_hist, s_hist = [], []
        for step in range(steps):
            feats = net(x)
            lc = content_loss(feats, c_feats)
            ls = style_loss(feats, s_grams)
            loss = content_weight * lc + style_weight * ls
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % record_every == 0 or step == steps - 1:
                c_hist.append(float(lc.detach()))
                s_hist.append(float(ls.detach()))
    y = x.detach()[0, 0].double().numpy()
    image = (np.sinh(y) if stretch else y) * c_unit
    if keep_flux:  # an additive correction: a multiplicative one would blow up on sky-dominated sums
        image += (content.sum() - image.sum()) / image.size
    return StyleResult(image, c_hist, s_hist)
