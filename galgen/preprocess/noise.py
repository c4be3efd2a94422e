"""Correlated background noise: measured on an image's source-free pixels, and drawn again.

Coadded and resampled images (DES, HSC, Legacy Surveys, HST drizzled data) carry noise that is
correlated between neighbouring pixels: the rms per pixel is right, but a sum over many pixels
scatters more than white noise of that rms would. galgen measures the correlation where the
noise's own effect is estimated by re-noising the observation (the bootstrap uncertainty map),
so that the re-noised copies look like the data, not like white noise.

Why not :class:`galsim.CorrelatedNoise`: it estimates the correlation function from an image
that holds noise only, and a galaxy stamp is mostly galaxy. The masked estimate below (the
autocorrelation of the zero-filled sky pixels divided by that of the mask, both by FFT) is the
standard one for gapped data and uses every sky pixel the source mask leaves; it is taken about
the covariance at lags beyond the noise's reach (:data:`FAR_LAGS`), which holds whatever smooth
light the mask leaves in the sky (a large galaxy's wings), not the noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from galgen.preprocess.background import source_mask

__all__ = ["NoiseCorrelation", "WHITE", "estimate_noise_correlation"]

#: Largest pixel lag measured (and drawn): ACS-like drizzle kernels and the resampling of
#: coadds correlate pixels over 1-2 pixels; beyond 3 the estimate is mostly its own noise.
MAX_LAG = 3
#: A lag's correlation counts only when it exceeds this many of its own standard errors
#: (``1 / sqrt(pixel pairs)``): white noise then reads white on all but ~1e-3 of stamps.
SIGNIFICANCE = 4.0
#: Fewer source-free pixels than this: too few to tell, the noise is taken as white.
MIN_PIXELS = 400
#: Side of the central region measured in a large image (an FFT of a whole mosaic is not needed).
REGION = 512
#: The covariance at lags of ``max_lag + 3`` to ``max_lag + 5`` pixels (a ring of 168 lags for the
#: default), where the noise is uncorrelated, is the level of whatever the sky pixels hold besides
#: noise and is subtracted at every lag: a galaxy's faint wings (below the source mask's 2 sigma
#: per pixel but coherent over tens of pixels) add a near-constant covariance at all small lags,
#: and white noise under an exponential disk of 20-pixel half-light radius (peak 100 sigma)
#: read as correlated without it (``sum_factor`` 1.5 instead of 1).
FAR_LAGS = (3, 5)


@dataclass(frozen=True)
class NoiseCorrelation:
    """The background noise's normalised autocorrelation at small lags.

    Attributes
    ----------
    acf : numpy.ndarray
        ``(2 L + 1, 2 L + 1)`` correlation coefficient at pixel lags ``-L..L`` (``[L, L]`` is 1);
        lags not significantly different from zero are 0. White noise: 1 at the centre only.
    pixels : int
        Source-free pixels it was measured on (0 when not measured).
    """

    acf: np.ndarray
    pixels: int = 0

    @property
    def is_white(self) -> bool:
        """True when no lag but zero is correlated."""
        return int(np.count_nonzero(self.acf)) <= 1

    @property
    def sum_factor(self) -> float:
        """``sqrt(sum acf)``: the noise rms of a sum over many pixels (an aperture much larger
        than the correlation length) relative to white noise of the same rms per pixel; 1 for
        white noise."""
        return float(np.sqrt(max(float(self.acf.sum()), 1e-6)))

    def kernel(self) -> np.ndarray:
        """``(2 L + 1, 2 L + 1)`` filter ``h`` whose autocorrelation is the closest non-negative
        spectrum to :attr:`acf`, normalised to ``sum h^2 = 1`` (white noise of rms ``s``
        filtered by it has rms ``s`` and this correlation)."""
        lag = self.acf.shape[0] // 2
        side = 4 * lag + 1  # room for h (2L+1) and its autocorrelation (4L+1)
        padded = np.zeros((side, side))
        padded[lag:3 * lag + 1, lag:3 * lag + 1] = self.acf
        power = np.clip(np.fft.fft2(np.fft.ifftshift(padded)).real, 0.0, None)
        h = np.fft.fftshift(np.fft.ifft2(np.sqrt(power)).real)[lag:3 * lag + 1, lag:3 * lag + 1]
        return h / np.sqrt(np.sum(h**2))

    def draw(self, shape: tuple[int, int], sigma: float, rng: np.random.Generator) -> np.ndarray:
        """``shape`` pixels of stationary Gaussian noise of rms ``sigma`` per pixel with this
        correlation (white noise when :attr:`is_white`)."""
        if self.is_white:
            return rng.normal(0.0, sigma, shape)
        from scipy.signal import fftconvolve  # here: importing scipy.signal (and with it scipy.stats)
        # took 0.44 s of every command's start-up, for the bootstrap of correlated noise only

        h = self.kernel()
        lag = h.shape[0] // 2
        white = rng.normal(0.0, sigma, (shape[0] + 2 * lag, shape[1] + 2 * lag))
        return fftconvolve(white, h, mode="valid")  # no edge pixels with a partial kernel


#: White noise (what a restorer assumes unless told otherwise).
WHITE = NoiseCorrelation(np.pad(np.ones((1, 1)), MAX_LAG))


def estimate_noise_correlation(data: np.ndarray, mask: np.ndarray | None = None, *,
                               sources: np.ndarray | None = None, max_lag: int = MAX_LAG,
                               significance: float = SIGNIFICANCE) -> NoiseCorrelation:
    """Measure the background noise's correlation on the source-free pixels of an image.

    Parameters
    ----------
    data : numpy.ndarray
        ``(H, W)`` background-subtracted image, any flux unit; non-finite pixels are ignored. Or
        ``(N, H, W)`` stamps of one survey, too small to measure alone: the pixel pairs of their
        backgrounds are pooled (each stamp about its own median), no pair crossing two stamps.
    mask : numpy.ndarray, optional
        Same shape, bool, True for pixels to ignore (bad or filled pixels).
    sources : numpy.ndarray, optional
        Same shape, bool: the sources, already found (e.g. ``BackgroundEstimate.sources``); by
        default found here (:func:`galgen.preprocess.source_mask`).
    max_lag : int, default :data:`MAX_LAG`
        Largest lag in pixels.
    significance : float, default :data:`SIGNIFICANCE`
        A lag's coefficient is kept when ``|rho| > significance / sqrt(pairs)``.

    Returns
    -------
    NoiseCorrelation
        :data:`WHITE`-like (``pixels`` set) when nothing is significant or fewer than
        :data:`MIN_PIXELS` source-free pixels remain. The central :data:`REGION` pixels of a
        larger image are measured.
    """
    data = np.asarray(data, dtype=np.float64)
    stack = data[None] if data.ndim == 2 else data
    masks, found = ([None] * len(stack) if m is None else np.broadcast_to(np.asarray(m, bool), stack.shape)
                    for m in (mask, sources))
    reach = max_lag + FAR_LAGS[1]
    lags = np.arange(-reach, reach + 1)
    products = np.zeros((lags.size, lags.size))
    count = np.zeros((lags.size, lags.size))
    n = 0
    for image, bad_given, sources_given in zip(stack, masks, found, strict=True):
        x, use = _sky(image, bad_given, sources_given)
        if use.sum() < 2:
            continue
        shape = (x.shape[0] + reach + 1, x.shape[1] + reach + 1)  # no wrap-around up to the far lags
        fx, fw = np.fft.rfft2(x, shape), np.fft.rfft2(use.astype(float), shape)
        ly, lx = np.meshgrid(lags % shape[0], lags % shape[1], indexing="ij")
        products += np.fft.irfft2(np.abs(fx) ** 2, shape)[ly, lx]  # sum of x(p) x(p + lag), sky pairs
        count += np.rint(np.fft.irfft2(np.abs(fw) ** 2, shape))[ly, lx]  # how many pairs were both sky
        n += int(use.sum())
    white = NoiseCorrelation(np.pad(np.ones((1, 1)), max_lag), n)
    covariance = products / np.maximum(count, 1)
    ring = np.maximum(*np.abs(np.meshgrid(lags, lags, indexing="ij")))
    far = (ring >= max_lag + FAR_LAGS[0]) & (count > 0)
    level = float(np.sum(products[far]) / np.sum(count[far])) if far.any() else 0.0
    variance = covariance[reach, reach] - level
    if n < MIN_PIXELS or not variance > 0:  # too few sky pixels, or a constant image
        return white
    inner = slice(reach - max_lag, reach + max_lag + 1)
    rho, count = (covariance[inner, inner] - level) / variance, count[inner, inner]
    rho[max_lag, max_lag] = 1.0  # exactly (the FFT gives it to round-off)
    keep = (np.abs(rho) > significance / np.sqrt(np.maximum(count, 1))) & (count >= MIN_PIXELS / 4)
    keep[max_lag, max_lag] = True
    return NoiseCorrelation(np.where(keep, rho, 0.0), n) if keep.sum() > 1 else white


def _sky(image: np.ndarray, bad_given: np.ndarray | None,
         sources: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """``(x, use)`` of the central :data:`REGION` of one image: its source-free, finite, unmasked
    pixels about their median (zero elsewhere), and where they are (``sources``: found
    already, else here)."""
    h, w = image.shape
    y0, x0 = max((h - REGION) // 2, 0), max((w - REGION) // 2, 0)
    region = (slice(y0, y0 + min(h, REGION)), slice(x0, x0 + min(w, REGION)))
    data = image[region]
    bad = ~np.isfinite(data)
    if bad_given is not None:
        bad |= bad_given[region]
    found = sources[region] if sources is not None else source_mask(np.where(bad, 0.0, data), mask=bad)
    use = ~(bad | found)
    if not use.any():
        return np.zeros(data.shape), use
    return np.where(use, data - np.median(data[use]), 0.0), use
