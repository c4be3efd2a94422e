"""Light a restoration left in the data: the smoothed residual, added back where it is significant.

A learned prior can take a galaxy's faint outer disk (below the noise pixel by pixel, but
hundreds of pixels of it) for sky and leave it out: the restorations of large, faint galaxies
lost 7-35 % of their flux (docs/benchmarks.md, "Light the restoration left in the data"). That
light is still in the data, as the residual ``r = observation - A(restored)``; smoothed over a
few PSF widths it is detected the way a low-surface-brightness source is, and it can be put back.

The step (:func:`residual_light`; a noise given lower than the residual's own robust rms per
pixel, its MAD, is replaced by that):

1. ``r`` is smoothed by a Gaussian of FWHM ``smoothing`` PSF FWHMs (white noise of rms
   ``sigma`` becomes ``sigma / (2 sqrt(pi) s)`` for a Gaussian of standard deviation ``s``
   pixels; times ``noise_factor`` for correlated noise, whose rms summed over large areas is
   ``noise_factor`` times the white one: ``GALGENNF``, with a margin, :data:`WIDE_NOISE_EXPONENT`);
2. connected regions where the smoothed residual exceeds ``threshold`` times that noise
   (positive and negative regions separately) are candidates;
3. a candidate is kept when the *unsmoothed* residual summed over it is significant,
   ``|sum r| > z noise_factor sigma sqrt(N)`` for its ``N`` pixels, with ``z`` the larger of
   ``min_significance`` and ``3.6 + ln(cells)`` (the image's area in smoothing cells: a larger
   image holds more, and larger, noise regions);
4. the smoothed residual over the kept regions is brought to the output grid (linear
   interpolation, divided by ``scale^2``, so its flux is kept) and added.

What is added is smooth (a few PSF widths): it restores the flux and the extended light, not
detail. On pure noise the regions are small and rarely significant; on the benchmark sets
(galaxies of 0.3-2" half-light radius) the step changed nothing on all but a few stamps.

scipy's ``gaussian_filter`` and ``label`` do the smoothing and the regions; no astropy or
photutils routine detects on a residual with this significance test (photutils'
``detect_sources`` thresholds pixels and counts them, not the region's summed significance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter, label, zoom

__all__ = ["RESIDUAL_LIGHT_DEFAULTS", "WIDE_NOISE_EXPONENT", "LOOK_ELSEWHERE_BASE", "ResidualLight",
           "residual_light", "smoothed_noise"]

#: The settings chosen on development pairs (seed 8,000,000; docs/benchmarks.md): a smoothing
#: of 4 PSF FWHMs, regions above 1 sigma of the smoothed noise, kept at 5 sigma summed.
RESIDUAL_LIGHT_DEFAULTS = {"smoothing": 4.0, "threshold": 1.0, "min_significance": 5.0}

#: The wide-sum noise factor is raised to this power: ``GALGENNF`` sums the correlation to lags of
#: 3 pixels and misses 9-14 % of the wide-sum rms of ACS-like drizzled noise (1.58 / 1.98 / 2.96
#: against 1.72 / 2.25 / 3.36 from smoothed 1024^2 maps); with the factor as measured 0.3-2.3 % of
#: pure-noise stamps "had" light, with this margin none of 1,800 (ACS-like, 2x2 and 3x3 box noise).
WIDE_NOISE_EXPONENT = 1.25

#: A region must also pass ``LOOK_ELSEWHERE_BASE + ln(cells)`` sigma, ``cells`` the image's area
#: over ``4 pi s^2`` (the smoothing's): the largest noise region of a larger image is larger.
LOOK_ELSEWHERE_BASE = 3.6

_FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


def _sigma_pix(psf_fwhm_pix: float, smoothing: float) -> float:
    """Standard deviation (pixels) of the smoothing Gaussian: ``smoothing`` PSF FWHMs of FWHM."""
    return max(smoothing * psf_fwhm_pix * _FWHM_TO_SIGMA, 0.5)


def smoothed_noise(noise_rms: float, psf_fwhm_pix: float, smoothing: float = 4.0, *,
                   noise_factor: float = 1.0) -> float:
    """Rms of the background noise after the smoothing of :func:`residual_light`.

    A Gaussian of standard deviation ``s`` pixels has an L2 norm ``1 / (2 sqrt(pi) s)``: white
    noise of rms ``noise_rms`` becomes ``noise_rms / (2 sqrt(pi) s)``; correlated noise, whose
    rms summed over areas much larger than its correlation length is ``noise_factor`` times the
    white one (:attr:`galgen.preprocess.NoiseCorrelation.sum_factor`, ``GALGENNF``), that many
    times more.

    Parameters
    ----------
    noise_rms : float
        Noise per input pixel.
    psf_fwhm_pix : float
        Observing PSF FWHM, input pixels.
    smoothing : float, default 4
        FWHM of the smoothing, in PSF FWHMs.
    noise_factor : float, default 1

    Returns
    -------
    float
        Per-pixel rms of the smoothed noise, same units as ``noise_rms``.
    """
    s = _sigma_pix(psf_fwhm_pix, smoothing)
    return float(noise_rms * max(noise_factor, 1.0) / (2.0 * np.sqrt(np.pi) * s))


@dataclass(frozen=True)
class ResidualLight:
    """What :func:`residual_light` found.

    Attributes
    ----------
    correction : numpy.ndarray
        ``(scale*H, scale*W)`` light to add, flux per output pixel (zero outside the kept regions).
    noise : numpy.ndarray
        ``(scale*H, scale*W)`` its standard deviation per output pixel from the noise (zero
        outside the kept regions), to add in quadrature to an uncertainty map.
    flux : float
        Total flux added (sum of ``correction``), input units.
    regions : int
        Number of regions kept.
    """

    correction: np.ndarray
    noise: np.ndarray
    flux: float
    regions: int


def residual_light(observation: np.ndarray, predicted: np.ndarray, noise_rms: float, psf_fwhm_pix: float,
                   scale: int, *, smoothing: float = 4.0, threshold: float = 1.0,
                   min_significance: float = 5.0, noise_factor: float = 1.0,
                   valid: np.ndarray | None = None) -> ResidualLight:
    """The significant, smoothed residual of a restoration, on the output grid.

    Parameters
    ----------
    observation : numpy.ndarray
        ``(H, W)`` background-subtracted observation, flux per input pixel.
    predicted : numpy.ndarray
        ``(H, W)`` the restoration blurred back to the observation (``A(restored)``), same units.
    noise_rms : float
        Background noise (1 sigma) per input pixel.
    psf_fwhm_pix : float
        Observing PSF FWHM, input pixels.
    scale : int
        Output pixels per input pixel (per axis).
    smoothing : float, default 4
        FWHM of the smoothing Gaussian, in PSF FWHMs.
    threshold : float, default 1
        A region is where the smoothed residual exceeds this many of its own noise sigmas.
    min_significance : float, default 5
        A region is kept when its summed residual exceeds this many sigmas, or
        ``LOOK_ELSEWHERE_BASE + ln(cells)`` if larger (``cells``: the valid area over
        ``4 pi s^2``, ``s`` the smoothing's standard deviation).
    noise_factor : float, default 1
        Rms of the noise summed over large areas relative to white noise of the same rms per
        pixel (:attr:`galgen.preprocess.NoiseCorrelation.sum_factor`, ``GALGENNF``); used raised
        to :data:`WIDE_NOISE_EXPONENT`.
    valid : numpy.ndarray, optional
        ``(H, W)`` bool, the pixels to use (filled bad pixels excluded).

    Returns
    -------
    ResidualLight
    """
    observation = np.asarray(observation, float)
    use = np.isfinite(observation) & np.isfinite(predicted)
    if valid is not None:
        use &= valid
    r = np.where(use, observation - predicted, 0.0)
    # the residual's own rms per pixel (robust: the MAD), when larger than the noise given: a noise
    # given too low would make all of the residual read as light. Per pixel, not smoothed: a faint
    # extended light (a few tenths of sigma a pixel) barely moves it, where it dominates a
    # smoothed map of a stamp
    values = r[use]
    if values.size > 16:
        measured = 1.4826 * float(np.median(np.abs(values - np.median(values))))
        noise_rms = max(noise_rms, measured)
    factor = max(noise_factor, 1.0) ** WIDE_NOISE_EXPONENT
    s = _sigma_pix(psf_fwhm_pix, smoothing)
    smooth = gaussian_filter(r, s, mode="constant")
    smooth_noise = smoothed_noise(noise_rms, psf_fwhm_pix, smoothing, noise_factor=factor)
    white = noise_rms * factor
    # the look-elsewhere effect: the larger the image, the more noise regions, and the largest of
    # their (selection-biased) sums grows like the log of their number. On pure white noise the
    # 99th percentile of the largest z stayed below 3.6 + ln(cells) for 64-512 px sides and PSFs
    # of 3-8 px (cells: the area over 4 pi s^2); a fixed 5 sigma was passed by 39 % of 256^2 maps
    cells = max(float(use.sum()) / (4.0 * np.pi * s * s), 1.0)
    min_significance = max(min_significance, LOOK_ELSEWHERE_BASE + np.log(cells))
    keep = np.zeros(r.shape, bool)
    regions = 0
    for sign in (1.0, -1.0):
        labels, n = label(sign * smooth > threshold * smooth_noise)
        if n == 0:
            continue
        sums = np.bincount(labels.ravel(), weights=r.ravel(), minlength=n + 1)[1:]
        area = np.bincount(labels.ravel(), minlength=n + 1)[1:]
        z = sign * sums / (white * np.sqrt(area))
        kept = np.flatnonzero(z > min_significance) + 1
        if kept.size:
            keep |= np.isin(labels, kept)
            regions += int(kept.size)
    shape = (observation.shape[0] * scale, observation.shape[1] * scale)
    if not regions:
        zero = np.zeros(shape)
        return ResidualLight(zero, zero.copy(), 0.0, 0)
    low = np.where(keep, smooth, 0.0)
    # pixel edges kept (grid_mode): output pixel j samples input coordinate (j + 0.5)/scale - 0.5
    correction = zoom(low, scale, order=1, grid_mode=True, mode="grid-constant") / scale**2
    where = zoom(keep.astype(float), scale, order=0, grid_mode=True, mode="grid-constant") > 0.5
    noise = np.where(where, smooth_noise / scale**2, 0.0)
    return ResidualLight(correction, noise, float(correction.sum()), regions)
