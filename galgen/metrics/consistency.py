"""Data consistency: does a restored image, blurred back, reproduce the observation?

This check needs no ground truth, so it works on real data: re-convolve the
restored image with the observing PSF (less the target PSF it already holds),
bin it to the observed grid, and compare with the observation in units of its
noise. A reduced chi^2 near 1 means the restoration explains the data to the
noise; much larger values flag invented or lost structure.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from galgen.psf.kernels import block_sum, convolve_psf, residual_kernel_fwhm
from galgen.psf.models import moffat_psf

__all__ = ["reconvolve_to_observed", "reconvolve_with_psf", "data_consistency", "residual_structure",
           "residual_structure_terms"]


def reconvolve_to_observed(restored: np.ndarray, psf_fwhm: float, out_pixel_scale: float,
                           scale: int, target_psf_fwhm: float = 0.2, beta: float = 3.5) -> np.ndarray:
    """Blur a restored image back to the observation's PSF and pixel grid.

    Parameters
    ----------
    restored : numpy.ndarray
        ``(sH, sW)`` restored image, flux per output pixel.
    psf_fwhm : float
        Observing PSF FWHM (Moffat), arcsec.
    out_pixel_scale : float
        Pixel scale of ``restored``, arcsec.
    scale : int
        Output/observation pixel ratio.
    target_psf_fwhm : float, default 0.2
        Gaussian PSF FWHM the restored image already has, arcsec.
    beta : float, default 3.5
        Moffat beta of the observing PSF.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` predicted observation (flux per observed pixel).
    """
    k_fwhm = float(residual_kernel_fwhm(psf_fwhm, target_psf_fwhm)) / out_pixel_scale
    size = min(int(np.ceil(8 * k_fwhm)) | 1, (min(restored.shape) - 1) | 1)
    kernel = moffat_psf(k_fwhm, size, beta=beta, method="no_pixel")
    return block_sum(convolve_psf(np.nan_to_num(restored), kernel), scale)


@lru_cache(maxsize=32)
def _psf_matching_kernel(psf_bytes: bytes, shape: tuple[int, int], pixel_scale: float, scale: int,
                         target_psf_fwhm: float) -> np.ndarray:
    """The kernel ``K`` of :func:`reconvolve_with_psf` (``G * K = P`` on the restored grid), cached:
    the stamps of a batch often share one PSF, and building ``K`` (GalSim interpolation, photutils
    matching) costs several times the convolution. Read-only."""
    from galgen.psf.models import psf_from_image
    from galgen.translate.physical import matching_kernel

    psf = np.frombuffer(psf_bytes, np.float64).reshape(shape)
    out_scale = pixel_scale / scale
    fine = psf_from_image(psf, pixel_scale=pixel_scale, target_pixel_scale=out_scale,
                          shape=(scale * psf.shape[0]) | 1)
    kernel, _, _ = matching_kernel(out_scale, target_psf_fwhm, None, target_psf=fine, allow_sharpen=True)
    kernel = np.array(kernel, np.float64)
    kernel.flags.writeable = False
    return kernel


def reconvolve_with_psf(restored: np.ndarray, psf: np.ndarray, pixel_scale: float, scale: int,
                        target_psf_fwhm: float) -> np.ndarray:
    """Blur a restored image back to the observation through the observing PSF *image*.

    The observation is the truth convolved with the effective PSF ``P`` (what a PSF image at
    the observation's pixel scale samples, pixel response included) and sampled on the coarse
    grid; the restored image is the truth convolved with a Gaussian ``G`` of
    ``target_psf_fwhm``. With ``P`` resampled onto the restored grid (GalSim interpolation) and
    ``K`` the matching kernel ``G * K = P`` (:func:`galgen.translate.matching_kernel`,
    photutils with a split-cosine-bell window), the predicted observation is
    ``block_sum(restored * K, scale)``: exact for any PSF shape where the Moffat approximation
    of :func:`reconvolve_to_observed` is not.

    Parameters
    ----------
    restored : numpy.ndarray
        ``(sH, sW)`` flux per output pixel.
    psf : numpy.ndarray
        Observing PSF at ``pixel_scale`` (odd sides, normalised here).
    pixel_scale : float
        Observation pixel scale, arcsec.
    scale : int
    target_psf_fwhm : float
        FWHM (arcsec) of the Gaussian PSF ``restored`` has.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` predicted observation.
    """
    psf = np.ascontiguousarray(psf, np.float64)
    kernel = _psf_matching_kernel(psf.tobytes(), psf.shape, float(pixel_scale), int(scale),
                                  float(target_psf_fwhm))
    if kernel.shape[0] >= min(restored.shape):
        n = (min(restored.shape) - 1) | 1 if min(restored.shape) % 2 == 0 else min(restored.shape) - 2
        c, h = kernel.shape[0] // 2, n // 2
        kernel = kernel[c - h:c + h + 1, c - h:c + h + 1]
        kernel = kernel / kernel.sum()
    return block_sum(convolve_psf(np.nan_to_num(restored), kernel), scale)


def data_consistency(restored: np.ndarray, observation: np.ndarray, noise_rms: float | np.ndarray,
                     psf_fwhm: float, out_pixel_scale: float, scale: int, *,
                     target_psf_fwhm: float = 0.2, beta: float = 3.5,
                     border: int | None = None,
                     predicted: np.ndarray | None = None,
                     mask: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Reduced chi^2 of the re-convolved restoration against the observation, and its map.

    Parameters
    ----------
    restored, observation : numpy.ndarray
        ``(sH, sW)`` and ``(H, W)``, same flux units (background-subtracted).
    noise_rms : float or numpy.ndarray
        Per-pixel noise of the observation.
    psf_fwhm, out_pixel_scale, scale, target_psf_fwhm, beta
        As in :func:`reconvolve_to_observed`.
    border : int, optional
        Observed pixels ignored at each edge (flux from outside the stamp);
        default one PSF FWHM.
    predicted : numpy.ndarray, optional
        ``(H, W)`` re-convolution of ``restored`` already computed with
        :func:`reconvolve_to_observed` (saves a convolution when the caller has one).
    mask : numpy.ndarray, optional
        ``(H, W)`` bool, True for observed pixels that hold no data (NaN, flagged or filled):
        left out of the mean.

    Returns
    -------
    chi2 : float
        Mean of the chi^2 map over the unmasked interior (expect ~1).
    chi2_map : numpy.ndarray
        ``(H, W)`` per-pixel ``((A(x) - d) / sigma)^2`` (NaN at the border and masked pixels).
    """
    if predicted is None:
        predicted = reconvolve_to_observed(restored, psf_fwhm, out_pixel_scale, scale, target_psf_fwhm,
                                           beta)
    chi = (predicted - observation) / noise_rms
    chi2_map = chi**2
    if border is None:
        border = int(np.ceil(psf_fwhm / (out_pixel_scale * scale)))
    if border:
        chi2_map[:border] = np.nan
        chi2_map[-border:] = np.nan
        chi2_map[:, :border] = np.nan
        chi2_map[:, -border:] = np.nan
    if mask is not None:
        chi2_map[np.asarray(mask, bool)] = np.nan
    finite = np.isfinite(chi2_map)
    return (float(np.mean(chi2_map[finite])) if finite.any() else float("nan")), chi2_map


def residual_structure(observation: np.ndarray, predicted: np.ndarray, noise_rms: float | np.ndarray,
                       psf_fwhm_pix: float, *, border: int | None = None,
                       mask: np.ndarray | None = None, noise_acf: np.ndarray | None = None) -> float:
    """How much of the observation's own structure is left in the residual, in sigma.

    chi^2 averages the residual's power over the whole stamp, where a restoration that is too
    smooth (a plain interpolation) or too sharp leaves it concentrated on the galaxy: a bicubic
    upsampling scores chi^2 ~1.1, inside the window a good restoration scores. Projecting the
    residual, in noise units, on the part of the predicted observation finer than the PSF,

        z = sum(r h) / sqrt(sum(h^2)),  r = (d - A x) / sigma,  h = A x - G_psf * (A x),

    gives a statistic that is N(0, 1) when the residual is white noise independent of the
    prediction, large and positive when the output is blurrier than the data (structure the
    data hold is missing from it) and negative when it is sharper than they support. For noise
    correlated between pixels (``noise_acf``), the denominator is the projection's own standard
    deviation, ``sqrt(sum_lag acf(lag) sum_p h(p) h(p + lag))``, so that ``z`` stays N(0, 1).

    Parameters
    ----------
    observation, predicted : numpy.ndarray
        ``(H, W)``: the observation and the restoration blurred back to it, same units.
    noise_rms : float or numpy.ndarray
        Noise of the observation.
    psf_fwhm_pix : float
        Observing PSF FWHM in observed pixels (the scale of the high-pass ``h``).
    border : int, optional
        Pixels ignored at each edge; default one PSF FWHM.
    mask : numpy.ndarray, optional
        ``(H, W)`` True where a pixel is to be ignored.
    noise_acf : numpy.ndarray, optional
        ``(2 L + 1, 2 L + 1)`` the noise's correlation coefficient at pixel lags ``-L..L``
        (:attr:`galgen.preprocess.NoiseCorrelation.acf`); default white.

    Returns
    -------
    float
        ``z``; NaN when the prediction has no structure to test (an empty stamp).

    See Also
    --------
    residual_structure_terms : ``z`` together with the size of the mismatch, ``f``.
    """
    return residual_structure_terms(observation, predicted, noise_rms, psf_fwhm_pix, border=border,
                                    mask=mask, noise_acf=noise_acf)[0]


def residual_structure_terms(observation: np.ndarray, predicted: np.ndarray,
                             noise_rms: float | np.ndarray, psf_fwhm_pix: float, *,
                             border: int | None = None, mask: np.ndarray | None = None,
                             noise_acf: np.ndarray | None = None) -> tuple[float, float]:
    """``(z, f)``: the significance of the structure left in the residual, and its size.

    ``z`` is :func:`residual_structure`. ``f`` is the least-squares amplitude of the residual
    along the fine structure ``h`` of the prediction, relative to ``h`` itself,

        f = sum((d - A x) h) / sum(h^2)   (dimensionless),

    so ``f = 0.05`` means the data hold 5 % more of the prediction's own fine structure than
    the prediction does (``f = -0.05``: 5 % less). At a fixed ``f``, ``z`` grows with the SNR: on
    a bright galaxy a mismatch of 1-2 % of the fine structure is already many sigma, and ``f``
    says whether it is large enough to matter. Same parameters as :func:`residual_structure`.

    Returns
    -------
    tuple of float
        ``(z, f)``; both NaN when the prediction has no structure to test.
    """
    from scipy.ndimage import gaussian_filter

    resid = np.asarray(observation, float) - predicted
    sigma = np.broadcast_to(np.asarray(noise_rms, float), resid.shape)
    h = predicted - gaussian_filter(np.asarray(predicted, float), psf_fwhm_pix / 2.3548, mode="nearest")
    keep = np.ones(resid.shape, bool) if mask is None else ~np.asarray(mask, bool)
    b = int(np.ceil(psf_fwhm_pix)) if border is None else int(border)
    if b:
        keep[:b], keep[-b:], keep[:, :b], keep[:, -b:] = False, False, False, False
    keep &= np.isfinite(resid) & np.isfinite(h) & (sigma > 0)
    hk, rk = h[keep], resid[keep]
    norm = float(np.sqrt(np.sum(hk**2)))
    if norm <= 0 or not np.isfinite(norm):
        return float("nan"), float("nan")
    spread = norm if noise_acf is None else _projection_std(np.where(keep, h, 0.0), noise_acf)
    return float(np.sum(rk / sigma[keep] * hk) / spread), float(np.sum(rk * hk) / norm**2)


def _projection_std(h: np.ndarray, acf: np.ndarray) -> float:
    """Standard deviation of ``sum(n h)`` for unit-variance noise ``n`` of correlation ``acf``
    (``(2 L + 1, 2 L + 1)``): ``sqrt(sum_lag acf(lag) sum_p h(p) h(p + lag))``, over the lags
    where ``acf`` is not zero (the pairs are summed directly: a few lags, any image size)."""
    lag = acf.shape[0] // 2
    n_y, n_x = h.shape
    var = 0.0
    for dy, dx in zip(*np.nonzero(acf), strict=True):
        oy, ox = int(dy) - lag, int(dx) - lag
        a = h[max(oy, 0):n_y + min(oy, 0), max(ox, 0):n_x + min(ox, 0)]
        b = h[max(-oy, 0):n_y + min(-oy, 0), max(-ox, 0):n_x + min(-ox, 0)]
        var += float(acf[dy, dx]) * float(np.sum(a * b))
    return float(np.sqrt(max(var, 1e-300)))
