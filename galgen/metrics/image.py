"""Pixel-level image metrics: PSNR, SSIM, residual RMS in noise units."""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity

__all__ = ["psnr", "ssim", "residual_rms"]


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
    mse = float(np.mean((restored - truth) ** 2))
    if mse == 0:
        return float("inf")
    return float(10.0 * np.log10(data_range**2 / mse))


def ssim(restored: np.ndarray, truth: np.ndarray, data_range: float | None = None) -> float:
    """Structural similarity (``skimage.metrics.structural_similarity``), same data range as :func:`psnr`."""
    truth = np.asarray(truth, dtype=np.float64)
    if data_range is None:
        data_range = float(truth.max() - truth.min())
    return float(structural_similarity(np.asarray(restored, dtype=np.float64), truth,
                                       data_range=data_range))


def residual_rms(restored: np.ndarray, truth: np.ndarray, noise_rms: float) -> float:
    """RMS of ``restored - truth`` in units of ``noise_rms``."""
    diff = np.asarray(restored, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
    return float(np.sqrt(np.mean(diff**2)) / noise_rms)
