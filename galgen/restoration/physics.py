"""The observation model in torch: re-convolve a restored image and bin it to the observed grid.

A restored image ``x`` at the target scale already contains the target PSF (a
Gaussian of FWHM ``target_fwhm``). The observation is ``truth * P_obs`` binned
by ``scale``; since ``truth * G_target * K ~ truth * P_obs`` when ``K`` is a
Moffat with ``FWHM_K^2 = FWHM_obs^2 - FWHM_target^2`` (exact for Gaussians, a
close approximation for Moffat PSFs a few times wider than the target PSF),

    A(x) = block_sum(x * K, scale)

is compared with the observation in units of its noise: ``chi^2`` per pixel is
~1 for a restoration consistent with the data.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from galgen.psf.kernels import residual_kernel_fwhm

__all__ = ["moffat_kernels", "forward_operator", "reduced_chi2", "data_consistency_kernel_fwhm"]


#: Kernel width rule shared with inference (:func:`galgen.psf.kernels.residual_kernel_fwhm`).
data_consistency_kernel_fwhm = residual_kernel_fwhm


def moffat_kernels(fwhm_pix: Tensor, size: int, beta: float = 3.5) -> Tensor:
    """Centred Moffat kernels sampled at pixel centres, each summing to 1.

    Parameters
    ----------
    fwhm_pix : Tensor
        ``(B,)`` FWHM in pixels of the grid the kernels live on.
    size : int
        Odd kernel side.
    beta : float, default 3.5

    Returns
    -------
    Tensor
        ``(B, 1, size, size)``.
    """
    r = torch.arange(size, dtype=fwhm_pix.dtype, device=fwhm_pix.device) - size // 2
    r2 = r[None, :] ** 2 + r[:, None] ** 2                                   # (size, size)
    alpha = fwhm_pix / (2 * math.sqrt(2 ** (1 / beta) - 1))                  # (B,)
    k = (1 + r2[None] / alpha[:, None, None] ** 2) ** (-beta)               # (B, size, size)
    k = k / k.sum(dim=(-1, -2), keepdim=True)
    return k[:, None]


def forward_operator(x: Tensor, kernels: Tensor, scale: int) -> Tensor:
    """``A(x)``: per-sample convolution with ``kernels`` then ``scale x scale`` block sums.

    Parameters
    ----------
    x : Tensor
        ``(B, 1, H, W)`` restored images, flux per target pixel.
    kernels : Tensor
        ``(B, 1, k, k)`` from :func:`moffat_kernels` (target-pixel units).
    scale : int
        Binning factor to the observed grid.

    Returns
    -------
    Tensor
        ``(B, 1, H/scale, W/scale)`` predicted observation (zero-padded at the edges).
    """
    b, _, h, w = x.shape
    k = kernels.shape[-1]
    conv = F.conv2d(x.reshape(1, b, h, w), kernels, padding=k // 2, groups=b).reshape(b, 1, h, w)
    if scale == 1:
        return conv
    return F.avg_pool2d(conv, scale) * scale**2


def reduced_chi2(predicted: Tensor, observed: Tensor, noise_rms: Tensor | float, crop: int = 0) -> Tensor:
    """Mean of ``((predicted - observed) / noise_rms)^2`` per sample ``(B,)``, ``crop`` pixels
    dropped at each edge (where zero padding or missing outside flux bias ``A(x)``)."""
    if isinstance(noise_rms, Tensor) and noise_rms.dim() == 1:
        noise_rms = noise_rms[:, None, None, None]
    r = (predicted - observed) / noise_rms
    if crop:
        r = r[..., crop:-crop, crop:-crop]
    return (r**2).flatten(1).mean(-1)
