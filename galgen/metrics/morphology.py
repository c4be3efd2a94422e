"""Size and shape: curve of growth, half-light radius, centroid, adaptive-moment ellipticity."""

from __future__ import annotations

import galsim
import numpy as np
from photutils.aperture import CircularAperture, aperture_photometry

__all__ = ["curve_of_growth", "half_light_radius", "centroid", "ellipticity"]


def centroid(image: np.ndarray) -> tuple[float, float]:
    """Flux-weighted ``(x, y)`` centroid (0-based pixels) of the positive pixels."""
    w = np.clip(np.nan_to_num(image), 0, None)
    yy, xx = np.indices(image.shape)
    total = w.sum()
    if total <= 0:
        return (image.shape[1] - 1) / 2, (image.shape[0] - 1) / 2
    return float((w * xx).sum() / total), float((w * yy).sum() / total)


def curve_of_growth(image: np.ndarray, radii: np.ndarray,
                    center: tuple[float, float] | None = None) -> np.ndarray:
    """Flux inside circular apertures of the given radii (pixels), ``photutils`` exact overlap.

    Returns
    -------
    numpy.ndarray
        ``(len(radii),)`` enclosed flux.
    """
    if center is None:
        center = ((image.shape[1] - 1) / 2, (image.shape[0] - 1) / 2)
    apertures = [CircularAperture(center, r=float(r)) for r in radii]
    table = aperture_photometry(np.nan_to_num(image), apertures, method="exact")
    return np.array([float(table[f"aperture_sum_{i}"][0]) for i in range(len(radii))])


def half_light_radius(image: np.ndarray, max_radius: float, center: tuple[float, float] | None = None,
                      pixel_scale: float = 1.0, n: int = 200) -> float:
    """Radius enclosing half of the flux within ``max_radius`` (curve of growth, interpolated).

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` background-subtracted image.
    max_radius : float
        Aperture (pixels) defining the total flux.
    center : (x, y), optional
        Default: the image centre.
    pixel_scale : float, default 1
        The result is in pixels times ``pixel_scale`` (e.g. arcsec).

    Returns
    -------
    float
        Half-light radius, NaN when the enclosed flux is not positive.
    """
    radii = np.linspace(max_radius / n, max_radius, n)
    cog = curve_of_growth(image, radii, center)
    total = cog[-1]
    if not np.isfinite(total) or total <= 0:
        return float("nan")
    above = np.nonzero(cog >= 0.5 * total)[0]
    i = int(above[0])
    if i == 0:
        return float(radii[0] * pixel_scale)
    r0, r1, f0, f1 = radii[i - 1], radii[i], cog[i - 1], cog[i]
    return float((r0 + (0.5 * total - f0) * (r1 - r0) / (f1 - f0)) * pixel_scale)


def ellipticity(image: np.ndarray, pixel_scale: float = 1.0) -> tuple[float, float, str]:
    """``(e1, e2, reason)`` from GalSim's adaptive moments (``galsim.hsm.FindAdaptiveMom``).

    ``e = (a^2 - b^2) / (a^2 + b^2)`` in the distortion convention; on failure
    (no convergence) returns ``(nan, nan, message)`` instead of raising.
    """
    img = galsim.Image(np.ascontiguousarray(np.nan_to_num(image), dtype=np.float64), scale=pixel_scale)
    moments = galsim.hsm.FindAdaptiveMom(img, strict=False)
    if moments.moments_status != 0:
        return float("nan"), float("nan"), f"hsm failed: {moments.error_message.strip()}"
    shape = moments.observed_shape
    return float(shape.e1), float(shape.e2), ""
