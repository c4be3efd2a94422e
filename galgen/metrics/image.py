"""Pixel-level image metrics: PSNR, SSIM, residual RMS in noise units."""

from __future__ import annotations

import numpy as np

# skimage.metrics is imported where it is used: it pulls in scipy.stats (0.3 s), which the
# start-up of `galgen restore` does not need

__all__ = ["psnr", "ssim", "residual_rms", "radial_power_spectrum", "power_spectrum_ratio"]


def psnr(restored: np.ndarray, truth: np.ndarray, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio, ``10 log10(data_range^2 / MSE)`` in dB.

    Parameters
    ----------
    restored, truth : numpy.ndarray
        ``(H, W)`` images on the same grid and in the same units.
    data_range : float, optional
        Peak value; default ``truth.max() - truth.min()`` (the convention used
        throughout galgen's benchmarks).

    Returns
    -------
    float
        PSNR in dB (``inf`` for identical images).
    """
    restored = np.asarray(restored, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    if data_range is None:
        data_range = float(truth.max() - truth.min())
    if np.array_equal(restored, truth):
        return float("inf")  # skimage would divide by zero (and warn)
    from skimage.metrics import peak_signal_noise_ratio

    return float(peak_signal_noise_ratio(truth, restored, data_range=data_range))


def ssim(restored: np.ndarray, truth: np.ndarray, data_range: float | None = None) -> float:
    """Structural similarity (``skimage.metrics.structural_similarity``), same data range as :func:`psnr`."""
    from skimage.metrics import structural_similarity

    truth = np.asarray(truth, dtype=np.float64)
    if data_range is None:
        data_range = float(truth.max() - truth.min())
    return float(structural_similarity(np.asarray(restored, dtype=np.float64), truth,
                                       data_range=data_range))


def residual_rms(restored: np.ndarray, truth: np.ndarray, noise_rms: float) -> float:
    """RMS of ``restored - truth`` in units of ``noise_rms``."""
    diff = np.asarray(restored, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
    return float(np.sqrt(np.mean(diff**2)) / noise_rms)


def radial_power_spectrum(image: np.ndarray, nbins: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Azimuthally averaged power spectrum ``|FFT|^2``.

    Returns
    -------
    frequency : numpy.ndarray
        ``(nbins,)`` bin centres in cycles per pixel (0 to 0.5, Nyquist).
    power : numpy.ndarray
        ``(nbins,)`` mean power in each annulus.
    """
    image = np.nan_to_num(np.asarray(image, dtype=np.float64))
    power = np.abs(np.fft.fftshift(np.fft.fft2(image))) ** 2
    fy = np.fft.fftshift(np.fft.fftfreq(image.shape[0]))
    fx = np.fft.fftshift(np.fft.fftfreq(image.shape[1]))
    f = np.hypot(*np.meshgrid(fx, fy))
    edges = np.linspace(0, 0.5, nbins + 1)
    idx = np.digitize(f.ravel(), edges) - 1
    ok = (idx >= 0) & (idx < nbins)
    sums = np.bincount(idx[ok], weights=power.ravel()[ok], minlength=nbins)
    counts = np.bincount(idx[ok], minlength=nbins)
    return 0.5 * (edges[1:] + edges[:-1]), sums / np.maximum(counts, 1)


def power_spectrum_ratio(restored: np.ndarray, truth: np.ndarray,
                         nbins: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """``P_restored(k) / P_truth(k)``: 1 where a scale is recovered, < 1 where power was lost,
    > 1 where it was invented (or noise left in). Frequencies in cycles per pixel."""
    f, pr = radial_power_spectrum(restored, nbins)
    _, pt = radial_power_spectrum(truth, nbins)
    return f, pr / np.where(pt > 0, pt, np.nan)
