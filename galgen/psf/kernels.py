"""Flux-conserving FFT convolution and block resampling."""

from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve

from galgen.errors import GalgenValueError

__all__ = ["convolve_fft", "block_sum", "gaussian_fwhm_quadrature"]


def convolve_fft(image: np.ndarray, kernel: np.ndarray, *, normalize: bool = True) -> np.ndarray:
    """Convolve an image with a PSF kernel by FFT, keeping the image's shape.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` image. Must be finite.
    kernel : numpy.ndarray
        ``(h, w)`` kernel with odd sides, centred.
    normalize : bool, default True
        Divide the kernel by its sum first, so the total flux is conserved
        (exactly for sources away from the edges; flux spread past the edge is lost).

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` float64 convolved image.
    """
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    if not np.all(np.isfinite(image)):
        msg = "convolve_fft needs a finite image; fill bad pixels first (galgen.preprocess.fill_masked)"
        raise GalgenValueError(msg)
    if kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
        msg = f"kernel sides must be odd so that it has a centre pixel, got {kernel.shape}"
        raise GalgenValueError(msg)
    if normalize:
        kernel = kernel / kernel.sum()
    return fftconvolve(image, kernel, mode="same")


def block_sum(image: np.ndarray, factor: int) -> np.ndarray:
    """Bin ``factor x factor`` blocks by summing: flux-conserving downsampling.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` image with ``H`` and ``W`` multiples of ``factor``.
    factor : int
        Binning factor.

    Returns
    -------
    numpy.ndarray
        ``(H/factor, W/factor)`` image whose sum equals the input's.
    """
    h, w = image.shape
    if factor < 1 or h % factor or w % factor:
        msg = f"image shape {image.shape} is not a multiple of the binning factor {factor}"
        raise GalgenValueError(msg)
    return image.reshape(h // factor, factor, w // factor, factor).sum(axis=(1, 3))


def gaussian_fwhm_quadrature(*fwhms: float) -> float:
    """FWHM of the convolution of Gaussians: ``sqrt(sum(fwhm_i^2))``."""
    return float(np.sqrt(np.sum(np.square(fwhms))))
