"""Aperture photometry with photutils: fluxes, magnitude errors."""

from __future__ import annotations

import numpy as np
from photutils.aperture import CircularAperture, aperture_photometry

__all__ = ["aperture_flux", "flux_error", "magnitude_error"]


def aperture_flux(image: np.ndarray, radius: float, center: tuple[float, float] | None = None,
                  method: str = "exact") -> float:
    """Flux inside a circular aperture (``photutils.aperture``).

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` flux per pixel.
    radius : float
        Aperture radius in pixels.
    center : (x, y), optional
        0-based pixel centre; default the image centre ``((W-1)/2, (H-1)/2)``.
    method : str, default "exact"
        photutils overlap method.

    Returns
    -------
    float
        Sum of flux in the aperture, same unit as the image.
    """
    image = np.asarray(image, dtype=np.float64)
    if center is None:
        center = ((image.shape[1] - 1) / 2, (image.shape[0] - 1) / 2)
    table = aperture_photometry(image, CircularAperture(center, r=radius), method=method)
    return float(table["aperture_sum"][0])


def flux_error(measured: float, true: float) -> float:
    """Relative flux error ``measured / true - 1``."""
    return float(measured / true - 1.0)


def magnitude_error(measured: float, true: float) -> float:
    """``-2.5 log10(measured / true)`` in mag (NaN for non-positive fluxes)."""
    if measured <= 0 or true <= 0:
        return float("nan")
    return float(-2.5 * np.log10(measured / true))
