"""Celestial WCS helpers: pixel scale in arcsec and WCS of a resampled grid."""

from __future__ import annotations

import copy
import re

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from galgen._warnings import quiet
from galgen.errors import GalgenWCSError

__all__ = [
    "pixel_scale_from_wcs",
    "resample_wcs",
    "celestial_wcs",
    "strip_wcs_keywords",
    "simple_tan_wcs",
]

_WCS_KEY = re.compile(
    r"^(WCSAXES|CRPIX\d|CRVAL\d|CDELT\d|CUNIT\d|CTYPE\d|CROTA\d|CD\d_\d|PC\d_\d|PV\d_\d+|PS\d_\d+"
    r"|LONPOLE|LATPOLE|RADESYS|EQUINOX|EPOCH|A_ORDER|B_ORDER|AP_ORDER|BP_ORDER"
    r"|A_\d+_\d+|B_\d+_\d+|AP_\d+_\d+|BP_\d+_\d+|A_DMAX|B_DMAX|WCSNAME|MJDREF|DATEREF)$"
)


def celestial_wcs(header: fits.Header) -> WCS | None:
    """Return the celestial WCS of ``header`` or ``None`` when it has none.

    Parameters
    ----------
    header : astropy.io.fits.Header
        Image header.

    Returns
    -------
    astropy.wcs.WCS or None
        Two-axis celestial WCS (``wcs.celestial``), or ``None`` when the header
        carries no celestial axes.
    """

    with quiet(FITSFixedWarning):
        try:
            wcs = WCS(header)
        except Exception:  # noqa: BLE001 - astropy raises many types for broken WCS
            return None
    if not wcs.has_celestial:
        return None
    if wcs.naxis == 2 and wcs.is_celestial:
        return wcs  # already two celestial axes: no sub-WCS to build (each WCS costs milliseconds)
    return wcs.celestial


def pixel_scale_from_wcs(wcs: WCS) -> float:
    """Pixel scale of a celestial WCS, in arcsec per pixel.

    Parameters
    ----------
    wcs : astropy.wcs.WCS
        Celestial WCS.

    Returns
    -------
    float
        Pixel scale in arcsec (geometric mean of the two axes).

    Raises
    ------
    GalgenWCSError
        If the pixels are not square to 1 % (galgen's networks assume square pixels).
    """
    scales = wcs.proj_plane_pixel_scales()  # Quantities in the axis units (deg)
    values = np.abs(np.array([s.to_value("arcsec") for s in scales]))
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        msg = f"the WCS has a degenerate pixel scale {values} arcsec; fix CD/CDELT in the header"
        raise GalgenWCSError(msg)
    if abs(values[0] / values[1] - 1) > 0.01:
        msg = (
            f"pixels are not square ({values[0]:.4g} x {values[1]:.4g} arcsec); "
            "resample the image to square pixels first (e.g. with the reproject package)"
        )
        raise GalgenWCSError(msg)
    return float(np.sqrt(values[0] * values[1]))


def resample_wcs(wcs: WCS, factor: float) -> WCS:
    """WCS of the same sky on a grid with ``factor`` times more pixels per axis.

    Pixel *edges* are kept: new pixel ``j`` (0-based) covers old pixel
    coordinates ``[j/factor - 0.5, (j+1)/factor - 0.5]``, so the old pixel centre
    ``i`` sits at new coordinate ``factor*(i + 0.5) - 0.5``. In FITS (1-based)
    terms ``CRPIX' = factor*(CRPIX - 0.5) + 0.5`` and the linear matrix (CD or
    CDELT) is divided by ``factor``. SIP distortion polynomials are rescaled
    accordingly (``A'_pq = A_pq factor^(1-p-q)``).

    Parameters
    ----------
    wcs : astropy.wcs.WCS
        Celestial WCS of the input grid.
    factor : float
        Upsampling factor (2 for x2 super-resolution, 0.5 for 2x2 binning).

    Returns
    -------
    astropy.wcs.WCS
        A new WCS; the input is not modified.
    """
    if factor <= 0:
        msg = f"resampling factor must be > 0, got {factor}"
        raise GalgenWCSError(msg)
    new = wcs.deepcopy()
    new.wcs.crpix = factor * (np.asarray(wcs.wcs.crpix) - 0.5) + 0.5
    if new.wcs.has_cd():
        new.wcs.cd = np.asarray(wcs.wcs.cd) / factor
    else:
        new.wcs.cdelt = np.asarray(wcs.wcs.cdelt) / factor
    if wcs.sip is not None:
        from astropy.wcs import Sip

        def scale(poly: np.ndarray | None, inverse: bool) -> np.ndarray | None:
            if poly is None:
                return None
            p, q = np.indices(poly.shape)
            return poly * factor ** (1.0 - p - q)

        new.sip = Sip(
            scale(wcs.sip.a, False),
            scale(wcs.sip.b, False),
            scale(wcs.sip.ap, True),
            scale(wcs.sip.bp, True),
            new.wcs.crpix,
        )
    if wcs.pixel_shape is not None:
        nx, ny = wcs.pixel_shape
        new.pixel_shape = (int(round(nx * factor)), int(round(ny * factor)))
    new.wcs.set()
    return new


def strip_wcs_keywords(header: fits.Header, also: tuple[str, ...] = ()) -> fits.Header:
    """Copy of ``header`` without any WCS keyword (so a new WCS can be written).

    ``also`` names further keywords to leave out (e.g. the structural ones). One pass
    over copies of the kept cards: deleting cards one by one re-indexes the header each time.
    """
    drop = set(also)
    return fits.Header([copy.copy(card) for card in header.cards
                        if card.keyword not in drop and not _WCS_KEY.match(card.keyword)])


def simple_tan_wcs(shape: tuple[int, int], pixel_scale: float, ra: float = 150.1,
                   dec: float = 2.2) -> WCS:
    """North-up TAN WCS centred on ``(ra, dec)`` (deg) for an ``(H, W)`` image.

    Used for simulated stamps (the default centre lies in the COSMOS field).
    """
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [(shape[1] + 1) / 2, (shape[0] + 1) / 2]
    wcs.wcs.cd = np.array([[-pixel_scale / 3600.0, 0.0], [0.0, pixel_scale / 3600.0]])
    wcs.wcs.radesys = "ICRS"
    wcs.pixel_shape = (shape[1], shape[0])
    wcs.wcs.set()
    return wcs
