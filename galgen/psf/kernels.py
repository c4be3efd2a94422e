"""Flux-conserving FFT convolution and block resampling."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.fft import irfft2, next_fast_len, rfft2

from galgen.errors import GalgenValueError

__all__ = ["convolve_psf", "block_sum", "gaussian_fwhm_quadrature", "residual_kernel_fwhm"]


def convolve_psf(image: np.ndarray, kernel: np.ndarray, *, normalize: bool = True) -> np.ndarray:
    """Convolve an image with a PSF kernel by FFT, keeping the image's shape.

    This is ``scipy.signal.fftconvolve(image, kernel / kernel.sum(), mode="same")`` (tested
    equal to 1e-12) with the kernel's transform cached for stamp-sized grids: a batch
    convolves every stamp with the same PSF, and keeping its transform saved 0.45 of
    1.3 ms a stamp (measured on the 2-core VM). It is not
    ``astropy.convolution.convolve_fft``, which treats NaNs and boundaries differently.

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
        msg = "convolve_psf needs a finite image; fill bad pixels first (galgen.preprocess.fill_masked)"
        raise GalgenValueError(msg)
    if kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
        msg = f"kernel sides must be odd so that it has a centre pixel, got {kernel.shape}"
        raise GalgenValueError(msg)
    if normalize:
        kernel = kernel / kernel.sum()
    # the grid scipy's fftconvolve uses: same result, but the kernel's transform is kept
    shape = tuple(next_fast_len(n + k - 1, real=True) for n, k in zip(image.shape, kernel.shape, strict=True))
    if shape[0] * shape[1] > _CACHED_GRID_PIXELS:
        from scipy.signal import fftconvolve  # mosaics only: scipy.signal takes ~1 s to import

        return fftconvolve(image, kernel, mode="same")
    full = irfft2(rfft2(image, shape) * _kernel_spectrum(kernel.tobytes(), kernel.shape, shape), shape)
    top, left = (kernel.shape[0] - 1) // 2, (kernel.shape[1] - 1) // 2
    return full[top:top + image.shape[0], left:left + image.shape[1]]


_CACHED_GRID_PIXELS = 512 * 512  # stamps; a mosaic's kernel transform is not worth keeping


@lru_cache(maxsize=16)
def _kernel_spectrum(kernel: bytes, kernel_shape: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """Real FFT of a (float64) kernel on a ``shape`` grid. A batch convolves every stamp with
    the same PSF: keeping its transform saves one of three FFTs (0.45 of 1.3 ms a stamp)."""
    spectrum = rfft2(np.frombuffer(kernel).reshape(kernel_shape), shape)
    spectrum.flags.writeable = False
    return spectrum


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


def residual_kernel_fwhm(obs_fwhm, target_fwhm: float):  # noqa: ANN001, ANN201 - float, array or tensor
    """FWHM of the kernel ``K`` with ``K * G_target ~ P_obs``: ``sqrt(obs^2 - target^2)``.

    The one definition of the forward operator's kernel width, used by training
    (:mod:`galgen.restoration.physics`, torch tensors) and by the data-consistency check and
    flux calibration at inference (:mod:`galgen.metrics.consistency`, floats). Exact for
    Gaussians, a close approximation for Moffat PSFs a few times wider than the target.
    Floored at ``1e-3`` (same units) where the target is as wide as the observation.
    """
    squared = obs_fwhm**2 - target_fwhm**2
    if hasattr(squared, "clamp_min"):  # a torch tensor
        return squared.clamp_min(1e-6).sqrt()
    return np.sqrt(np.maximum(squared, 1e-6))
