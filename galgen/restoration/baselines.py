"""Classical restorations to compare against: Richardson-Lucy, Wiener, Wiener to a target PSF, bicubic.

Every baseline has the same signature as the learned restorer's core,
``f(observation, psf, factor, noise_rms, **options) -> restored``: the
observation ``(H, W)`` in flux per pixel, the observing PSF at the observation
pixel scale, and a result ``(factor*H, factor*W)`` in flux per *output* pixel
(so sums, i.e. total fluxes, are comparable).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import zoom

from galgen.errors import GalgenValueError

__all__ = ["bicubic_upsample", "richardson_lucy", "wiener", "wiener_to_target", "gaussian_smooth",
           "BASELINES"]


def bicubic_upsample(image: np.ndarray, factor: int) -> np.ndarray:
    """Flux-conserving cubic-spline upsampling with pixel edges aligned.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` flux per pixel.
    factor : int
        Upsampling factor.

    Returns
    -------
    numpy.ndarray
        ``(factor*H, factor*W)``, flux per output pixel (surface brightness
        interpolated, divided by ``factor**2``).
    """
    if factor < 1:
        msg = f"factor must be >= 1, got {factor}"
        raise GalgenValueError(msg)
    if factor == 1:
        return np.array(image, dtype=np.float64)
    up = zoom(np.asarray(image, dtype=np.float64), factor, order=3, grid_mode=True,
              mode="grid-mirror")
    return up / factor**2


def _check(observation: np.ndarray, psf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    obs = np.asarray(observation, dtype=np.float64)
    if obs.ndim != 2 or not np.all(np.isfinite(obs)):
        msg = "the observation must be a finite 2D array; fill bad pixels first"
        raise GalgenValueError(msg)
    psf = np.asarray(psf, dtype=np.float64)
    return obs, psf / psf.sum()


def richardson_lucy(observation: np.ndarray, psf: np.ndarray, factor: int = 2,
                    noise_rms: float = 0.0, *, iterations: int = 20) -> np.ndarray:
    """Richardson-Lucy deconvolution at the observed scale, then bicubic upsampling.

    The image is reflect-padded by the PSF radius (no dark edges). RL needs
    positive data: a pedestal of ``5 * noise_rms`` (minus the minimum,
    if lower) is added before and removed after; a constant is its own
    deconvolution since the PSF conserves flux.

    Parameters
    ----------
    observation : numpy.ndarray
        ``(H, W)`` background-subtracted observation.
    psf : numpy.ndarray
        Observing PSF at the observation pixel scale (normalised here).
    factor : int, default 2
        Upsampling factor of the result.
    noise_rms : float
        Background noise, same units.
    iterations : int, default 20
        RL iterations (choose on validation data: more sharpens and amplifies noise).

    Returns
    -------
    numpy.ndarray
        ``(factor*H, factor*W)`` restored image, flux per output pixel.
    """
    from skimage.restoration import richardson_lucy as _sk_richardson_lucy  # only here: a slow import

    obs, psf = _check(observation, psf)
    pedestal = max(5.0 * noise_rms, 0.0) + max(0.0, -obs.min()) + 1e-12
    pad = psf.shape[0] // 2 + 1  # reflect-pad so the edges see a continued sky, not zeros
    padded = np.pad(obs, pad, mode="reflect") + pedestal
    deconv = _sk_richardson_lucy(padded, psf, num_iter=iterations, clip=False,
                                 filter_epsilon=1e-12)[pad:-pad, pad:-pad] - pedestal
    return bicubic_upsample(deconv, factor)


def wiener(observation: np.ndarray, psf: np.ndarray, factor: int = 2, noise_rms: float = 0.0,
           *, balance: float | None = None) -> np.ndarray:
    """Wiener deconvolution (``skimage.restoration.wiener``) then bicubic upsampling.

    Parameters
    ----------
    balance : float, optional
        Regularisation (noise-to-signal power ratio); default
        ``(noise_rms / peak)**2 * 1e3`` clipped to ``[1e-4, 1]`` (a mild choice
        for galaxy stamps; tune on validation data).

    Other parameters are those of :func:`richardson_lucy`.
    """
    from skimage.restoration import wiener as _sk_wiener

    obs, psf = _check(observation, psf)
    if balance is None:
        peak = max(float(obs.max()), 1e-12)
        balance = float(np.clip((noise_rms / peak) ** 2 * 1e3, 1e-4, 1.0))
    pad = psf.shape[0]
    padded = np.pad(obs, pad, mode="constant")
    deconv = _sk_wiener(padded, psf, balance, clip=False)[pad:-pad, pad:-pad]
    return bicubic_upsample(deconv, factor)


def gaussian_smooth(image: np.ndarray, fwhm_pix: float) -> np.ndarray:
    """``image`` convolved with a unit-sum Gaussian of ``fwhm_pix`` pixels FWHM (flux kept).

    What brings a deconvolution whose own PSF is unknown (Richardson-Lucy, Wiener) to a
    model's target PSF before the two are compared: any sharper structure it recovered
    stays, at the resolution the model is asked to reach.
    """
    from scipy.ndimage import gaussian_filter

    if fwhm_pix <= 0:
        return np.array(image, dtype=np.float64)
    return gaussian_filter(np.asarray(image, dtype=np.float64), fwhm_pix / 2.3548200450309493,
                           mode="reflect", truncate=4.0)


def wiener_to_target(observation: np.ndarray, psf: np.ndarray, factor: int = 2, noise_rms: float = 0.0,
                     *, balance: float = 1e-2, target_fwhm_pix: float = 2.0) -> np.ndarray:
    """Tikhonov-regularised deconvolution *to* a Gaussian target PSF on the output grid.

    The observation is upsampled (flux-conserving bicubic) to the output grid, where the
    observing PSF ``H`` is the PSF image resampled with GalSim; the estimate is

        X(k) = G(k) H*(k) Y(k) / (|H(k)|^2 + balance |k / k_Nyquist|^2)

    with ``G`` the target Gaussian: the minimiser of ``|H x - y|^2 + balance |grad x|^2``
    (a smoothness penalty, which leaves the total flux, ``k = 0``, untouched), aimed at the same
    resolution as a learned model's output, so no further smoothing is needed before a
    comparison. Hard to beat on smooth galaxies; ``balance`` is tuned on validation data.

    Parameters
    ----------
    observation : numpy.ndarray
        ``(H, W)`` background-subtracted observation.
    psf : numpy.ndarray
        Observing PSF at the observation pixel scale.
    factor : int, default 2
    noise_rms : float
        Unused (the regularisation is ``balance``); kept for the common signature.
    balance : float, default 1e-2
        Weight of the gradient penalty at the Nyquist frequency, relative to ``|H(0)|^2 = 1``.
    target_fwhm_pix : float, default 2.0
        Target PSF FWHM in output pixels.

    Returns
    -------
    numpy.ndarray
        ``(factor*H, factor*W)`` flux per output pixel.
    """
    from galgen.psf.models import psf_from_image

    obs, psf = _check(observation, psf)
    up = bicubic_upsample(obs, factor)
    ny, nx = up.shape
    pad = 2 * factor * (psf.shape[0] // 2 + 1)
    padded = np.pad(up, pad, mode="reflect")
    kernel = psf_from_image(psf, pixel_scale=1.0, target_pixel_scale=1.0 / factor,
                            shape=min(factor * psf.shape[0] | 1, (min(padded.shape) - 1) | 1))
    shape = padded.shape
    h = np.fft.rfft2(np.fft.ifftshift(_embed(kernel, shape)))
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    sigma = target_fwhm_pix / 2.3548200450309493
    g = np.exp(-2 * np.pi**2 * sigma**2 * (kx**2 + ky**2))
    k2 = (kx**2 + ky**2) / 0.25  # squared frequency over Nyquist's: the penalty spares k = 0 (the flux)
    estimate = np.fft.irfft2(g * np.conj(h) * np.fft.rfft2(padded) / (np.abs(h) ** 2 + balance * k2), shape)
    return estimate[pad:pad + ny, pad:pad + nx]


def _embed(kernel: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``kernel`` centred in a zero array of ``shape`` (centre at ``shape // 2``)."""
    out = np.zeros(shape)
    ky, kx = kernel.shape
    y0, x0 = shape[0] // 2 - ky // 2, shape[1] // 2 - kx // 2
    out[y0:y0 + ky, x0:x0 + kx] = kernel
    return out


def _bicubic(observation: np.ndarray, psf: np.ndarray, factor: int = 2,
             noise_rms: float = 0.0) -> np.ndarray:
    obs, _ = _check(observation, psf)
    return bicubic_upsample(obs, factor)


#: Baselines by name, all with the signature ``f(observation, psf, factor, noise_rms)``.
BASELINES = {"richardson_lucy": richardson_lucy, "wiener": wiener, "wiener_target": wiener_to_target,
             "bicubic": _bicubic}
