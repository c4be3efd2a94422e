"""Classical restorations to compare against: Richardson-Lucy, Wiener, bicubic.

Every baseline has the same signature as the learned restorer's core,
``f(observation, psf, factor, noise_rms, **options) -> restored``: the
observation ``(H, W)`` in flux per pixel, the observing PSF at the observation
pixel scale, and a result ``(factor*H, factor*W)`` in flux per *output* pixel
(so sums, i.e. total fluxes, are comparable).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import zoom
from skimage.restoration import richardson_lucy as _sk_richardson_lucy
from skimage.restoration import wiener as _sk_wiener

from galgen.errors import GalgenValueError

__all__ = ["bicubic_upsample", "richardson_lucy", "wiener", "BASELINES"]


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
    obs, psf = _check(observation, psf)
    if balance is None:
        peak = max(float(obs.max()), 1e-12)
        balance = float(np.clip((noise_rms / peak) ** 2 * 1e3, 1e-4, 1.0))
    pad = psf.shape[0]
    padded = np.pad(obs, pad, mode="constant")
    deconv = _sk_wiener(padded, psf, balance, clip=False)[pad:-pad, pad:-pad]
    return bicubic_upsample(deconv, factor)


def _bicubic(observation: np.ndarray, psf: np.ndarray, factor: int = 2,
             noise_rms: float = 0.0) -> np.ndarray:
    obs, _ = _check(observation, psf)
    return bicubic_upsample(obs, factor)


#: Baselines by name, all with the signature ``f(observation, psf, factor, noise_rms)``.
BASELINES = {"richardson_lucy": richardson_lucy, "wiener": wiener, "bicubic": _bicubic}
