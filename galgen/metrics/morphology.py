"""Size and shape: curve of growth, half-light radius, centroid, adaptive-moment and isophotal ellipticity."""

from __future__ import annotations

import galsim
import numpy as np
from photutils.centroids import centroid_com
from photutils.profiles import CurveOfGrowth

from galgen._warnings import quiet

__all__ = [
    "curve_of_growth",
    "half_light_radius",
    "centroid",
    "ellipticity",
    "isophotal_ellipticity",
    "galaxy_footprint",
    "petrosian_flux",
    "nonparametric_morphology",
]


def centroid(image: np.ndarray) -> tuple[float, float]:
    """Flux-weighted ``(x, y)`` centroid (0-based pixels) of the positive pixels
    (``photutils.centroids.centroid_com``; the stamp centre when no pixel is positive)."""
    w = np.clip(np.nan_to_num(image), 0, None)
    if w.sum() <= 0:
        return (image.shape[1] - 1) / 2, (image.shape[0] - 1) / 2
    x, y = centroid_com(w)
    return float(x), float(y)


def curve_of_growth(image: np.ndarray, radii: np.ndarray,
                    center: tuple[float, float] | None = None) -> np.ndarray:
    """Flux inside circular apertures of the given (increasing, positive) radii in pixels:
    ``photutils.profiles.CurveOfGrowth`` with exact overlap.

    Returns
    -------
    numpy.ndarray
        ``(len(radii),)`` enclosed flux.
    """
    if center is None:
        center = ((image.shape[1] - 1) / 2, (image.shape[0] - 1) / 2)
    radii = np.atleast_1d(np.asarray(radii, dtype=np.float64))
    single = radii.size == 1  # CurveOfGrowth wants two radii at least: add a smaller one, drop it after
    cog = CurveOfGrowth(np.nan_to_num(np.asarray(image, dtype=np.float64)), center,
                        np.r_[0.5 * radii, radii] if single else radii, method="exact")
    return np.asarray(cog.profile, dtype=np.float64)[-1:] if single else np.asarray(cog.profile, np.float64)


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


def galaxy_footprint(image: np.ndarray, threshold: float, radius: float | None = None) -> np.ndarray:
    """The connected pixels above ``threshold`` that hold the brightest pixel within ``radius``
    pixels of the stamp centre (``photutils.segmentation.detect_sources``, 8-connected; no
    deblending): the galaxy's isophotal footprint, ``(H, W)`` bool (all False when nothing
    near the centre is above the threshold). ``radius`` defaults to a tenth of the stamp."""
    from photutils.segmentation import detect_sources

    image = np.nan_to_num(np.asarray(image, dtype=np.float64))
    h, w = image.shape
    radius = min(h, w) / 10 if radius is None else radius
    yy, xx = np.indices(image.shape)
    near = (yy - (h - 1) / 2) ** 2 + (xx - (w - 1) / 2) ** 2 <= radius**2
    with quiet():  # "no sources found" is an answer here, not a warning
        segments = detect_sources(image, threshold, n_pixels=5)
    if segments is None:
        return np.zeros(image.shape, bool)
    labels = segments.data
    peak = np.unravel_index(np.argmax(np.where(near & (labels > 0), image, -np.inf)), image.shape)
    return labels == labels[peak] if labels[peak] > 0 else np.zeros(image.shape, bool)


def isophotal_ellipticity(image: np.ndarray, footprint: np.ndarray) -> tuple[float, float, str]:
    """``(e1, e2, reason)`` from the unweighted second moments of ``image`` inside ``footprint``.

    The isophotal shape a source catalogue reports (``photutils.segmentation.SourceCatalog``'s
    covariance, SExtractor's ``A``, ``B``, ``THETA``: negative pixels count as zero, 1/12 pixel^2
    added to the diagonal of very thin sources), in the distortion convention of
    :func:`ellipticity`, ``e1 = (Ixx - Iyy) / (Ixx + Iyy)``, ``e2 = 2 Ixy / (Ixx + Iyy)``. It
    weighs the whole galaxy inside the isophote, where adaptive moments settle on its brightest
    compact part. Measure the truth and a restoration inside the *same* footprint (the truth's,
    :func:`galaxy_footprint`) to compare their shapes.
    """
    from photutils.segmentation import SegmentationImage, SourceCatalog

    m = np.asarray(footprint, bool)
    data = np.nan_to_num(np.asarray(image, dtype=np.float64))
    if m.sum() < 5 or not np.clip(data[m], 0, None).sum() > 0:
        return float("nan"), float("nan"), "no positive flux in the footprint"
    with quiet():
        catalog = SourceCatalog(data, SegmentationImage(m.astype(np.int32)))
        cov = np.asarray(catalog.covariance.value).reshape(2, 2)
    (ixx, ixy), (_, iyy) = cov
    if not np.isfinite(cov).all() or not ixx + iyy > 0:
        return float("nan"), float("nan"), "no extent in the footprint"
    return float((ixx - iyy) / (ixx + iyy)), float(2 * ixy / (ixx + iyy)), ""


def petrosian_flux(image: np.ndarray, max_radius: float, center: tuple[float, float] | None = None,
                   eta: float = 0.2, n: int = 200) -> tuple[float, float]:
    """Petrosian flux and radius from the curve of growth.

    The Petrosian radius ``r_P`` is where the local surface brightness at ``r``
    falls to ``eta`` times the mean surface brightness within ``r`` (SDSS uses
    ``eta = 0.2``); the Petrosian flux is the flux within ``2 r_P`` (capped at
    ``max_radius``).

    Returns
    -------
    (flux, r_p) : (float, float)
        ``r_p`` in pixels; NaNs when the profile never drops to ``eta``.
    """
    radii = np.linspace(max_radius / n, max_radius, n)
    cog = curve_of_growth(image, radii, center)
    local = np.gradient(cog, radii) / (2 * np.pi * radii)
    mean = cog / (np.pi * radii**2)
    ratio = np.where(mean > 0, local / np.where(mean > 0, mean, 1), np.nan)
    below = np.nonzero(ratio < eta)[0]
    below = below[below > 2]
    if below.size == 0:
        return float("nan"), float("nan")
    r_p = float(radii[below[0]])
    flux = float(curve_of_growth(image, np.array([min(2 * r_p, max_radius)]), center)[0])
    return flux, r_p


def nonparametric_morphology(image: np.ndarray, noise_rms: float, threshold: float = 2.0) -> dict:
    """Gini, M20, concentration, asymmetry and smoothness with ``statmorph`` (optional).

    The segmentation is the connected region above ``threshold * noise_rms``
    containing the brightest pixel. Returns NaNs and a ``morph_flag`` reason
    when statmorph is not installed or fails on this galaxy (never raises).
    """
    keys = ("gini", "m20", "concentration", "asymmetry", "smoothness")
    out: dict = dict.fromkeys(keys, float("nan"))
    try:
        import statmorph
    except ImportError:
        out["morph_flag"] = "statmorph not installed (pip install statmorph)"
        return out

    from scipy import ndimage

    data = np.nan_to_num(np.asarray(image, dtype=np.float64))
    labels, _ = ndimage.label(data > threshold * noise_rms)
    peak = labels[np.unravel_index(np.argmax(data), data.shape)]
    if peak == 0:
        out["morph_flag"] = "no pixel above the segmentation threshold"
        return out
    segmap = (labels == peak).astype(int)
    try:
        with quiet():
            m = statmorph.source_morphology(data, segmap, weightmap=np.full(data.shape, noise_rms),
                                            include_doublesersic=False)[0]
        out.update({k: float(getattr(m, k)) for k in keys})
        out["morph_flag"] = "" if m.flag == 0 else f"statmorph flag {m.flag}"
    except Exception as exc:  # noqa: BLE001 - statmorph raises many types on odd galaxies
        out["morph_flag"] = f"statmorph failed: {exc}"
    return out
