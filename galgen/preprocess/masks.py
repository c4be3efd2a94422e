"""Bad pixels: fill them for a network, track them, restore them in outputs."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

__all__ = ["fill_masked", "upsample_mask", "apply_mask"]


def fill_masked(data: np.ndarray, mask: np.ndarray | None = None,
                fill_value: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Replace bad pixels by a Gaussian-weighted (sigma 1.5 px) mean of their good neighbours.

    Parameters
    ----------
    data : numpy.ndarray
        ``(H, W)`` image; non-finite pixels are always treated as bad.
    mask : numpy.ndarray, optional
        ``(H, W)`` bool, True for further bad pixels.
    fill_value : float, optional
        Value for pixels that interpolation cannot reach (large holes); default:
        median of the good pixels.

    Returns
    -------
    filled : numpy.ndarray
        ``(H, W)`` float64 copy with every pixel finite.
    mask : numpy.ndarray
        ``(H, W)`` bool, the pixels that were filled.
    """
    data = np.asarray(data, dtype=np.float64)
    bad = ~np.isfinite(data)
    if mask is not None:
        bad |= np.asarray(mask, bool)
    if not bad.any():
        return data.copy(), bad
    # Normalised convolution: a Gaussian-weighted mean of the good neighbours. This equals
    # astropy.convolution.interpolate_replace_nans(data with NaNs, Gaussian2DKernel(1.5),
    # boundary="fill") to 1e-15 away from the image edge (test_preprocess; at the edge astropy
    # counts outside pixels as zeros with full weight, this leaves them out), but astropy warns
    # (AstropyUserWarning) for every hole wider than its kernel, and silencing warnings swaps
    # Python's process-wide filters, which is not thread-safe in the batch engine's reader
    # threads; this never warns and fills such holes with the median instead.
    good = (~bad).astype(np.float64)
    weights = gaussian_filter(good, sigma=1.5, mode="constant")
    values = gaussian_filter(np.where(bad, 0.0, data), sigma=1.5, mode="constant")
    filled = data.copy()
    reachable = bad & (weights > 1e-3)
    filled[reachable] = values[reachable] / weights[reachable]
    still = bad & ~reachable
    if still.any():
        filled[still] = np.median(data[~bad]) if fill_value is None else fill_value
    return filled, bad


def upsample_mask(mask: np.ndarray, factor: int) -> np.ndarray:
    """``(H, W)`` bool mask -> ``(factor*H, factor*W)``, each pixel to a block."""
    mask = np.asarray(mask, bool)
    return mask.repeat(factor, axis=0).repeat(factor, axis=1)  # = np.kron with a block of ones, 6x faster


def apply_mask(data: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Copy of ``data`` with masked pixels set to NaN (how outputs flag them)."""
    out = np.array(data, dtype=np.float64)
    out[np.asarray(mask, bool)] = np.nan
    return out
