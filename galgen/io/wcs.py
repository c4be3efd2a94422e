"""Celestial WCS helpers: pixel scale in arcsec and WCS of a resampled grid; IRAF's physical
pixel system (``LTV``/``LTM``: where a cutout lies on the exposure it was cut from)."""

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
    "has_lookup_distortion",
    "simple_tan_wcs",
    "PHYSICAL_KEYWORDS",
    "has_physical",
    "physical_position",
    "move_physical",
    "exposure_position",
    "centre_on_exposure",
]

#: Keywords of lookup-table distortions (FITS WCS Paper IV ``CPDIS``/``CQDIS`` with their
#: record-valued ``DP``/``DQ`` cards, STScI's detector-to-image ``D2IMDIS``): HST ``flt``/``flc``
#: files carry them (NPOL and D2IM tables, in ``WCSDVARR``/``D2IMARR`` extensions), and astropy
#: builds no WCS from such a header without the file's tables.
_LOOKUP_KEY = re.compile(r"^(CPDIS\d|CQDIS\d|DP\d|DQ\d|CPERR\d|CQERR\d|D2IMDIS\d|D2IM\d|D2IMERR\d"
                         r"|D2IMEXT|NPOLEXT)(\..+)?$")

#: WCS keywords (also those of alternate WCSs, ``CRPIX1O`` or ``WCSNAMEA``, which describe the
#: input's pixels too, and lookup-table distortions): not carried to an image on another grid.
_WCS_KEY = re.compile(
    r"^((WCSAXES|CRPIX\d|CRVAL\d|CDELT\d|CUNIT\d|CTYPE\d|CD\d_\d|PC\d_\d|PV\d_\d+|PS\d_\d+"
    r"|LONPOLE|LATPOLE|RADESYS|EQUINOX|WCSNAME)[A-Z]?|CROTA\d|EPOCH|A_ORDER|B_ORDER|AP_ORDER|BP_ORDER"
    r"|A_\d+_\d+|B_\d+_\d+|AP_\d+_\d+|BP_\d+_\d+|A_DMAX|B_DMAX|MJDREF|DATEREF)$"
    rf"|{_LOOKUP_KEY.pattern}"
)


def has_lookup_distortion(header: fits.Header | None) -> bool:
    """Whether ``header`` describes a lookup-table distortion (``CPDIS``, ``D2IMDIS``: HST
    ``flt``/``flc`` chips)."""
    return header is not None and any(_LOOKUP_KEY.match(card.keyword) for card in header.cards)


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
        carries no celestial axes. Lookup-table distortions (HST ``flt``/``flc``:
        :func:`has_lookup_distortion`), whose tables lie in other HDUs of the file, are left out.
    """

    with quiet(FITSFixedWarning):
        try:
            wcs = WCS(header)
        except Exception:  # noqa: BLE001 - astropy raises many types for broken WCS
            if not has_lookup_distortion(header):
                return None
            # an HST flt/flc chip: astropy needs the file's tables; the WCS without them (CD and
            # SIP; the tables are small corrections on top) serves for pixel scales, sky positions
            # and the output's WCS
            try:
                wcs = WCS(fits.Header([c for c in header.cards if not _LOOKUP_KEY.match(c.keyword)]))
            except Exception:  # noqa: BLE001
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


#: IRAF's physical pixel system: this file's (logical) pixel ``l = LTM p + LTV`` for the pixel
#: ``p`` of the exposure it was cut from (``imcopy``, ``Cutout2D`` via :func:`move_physical`, HST
#: subarrays). A PSF model fitted on the exposure (PSFEx, an SDSS psField) is evaluated there.
PHYSICAL_KEYWORDS = ("LTV1", "LTV2", "LTM1_1", "LTM1_2", "LTM2_1", "LTM2_2")


def has_physical(header: fits.Header | None) -> bool:
    """Whether ``header`` has any of IRAF's physical-pixel keywords (:data:`PHYSICAL_KEYWORDS`)."""
    return header is not None and any(key in header for key in PHYSICAL_KEYWORDS)


def _physical_terms(header: fits.Header) -> tuple[np.ndarray, np.ndarray]:
    """``(LTM (2, 2), LTV (2,))`` of ``header``, IRAF's defaults for absent keywords."""
    ltm = np.array([[header.get("LTM1_1", 1.0), header.get("LTM1_2", 0.0)],
                    [header.get("LTM2_1", 0.0), header.get("LTM2_2", 1.0)]], dtype=float)
    return ltm, np.array([header.get("LTV1", 0.0), header.get("LTV2", 0.0)], dtype=float)


def physical_position(header: fits.Header | None, x: float, y: float) -> tuple[float, float] | None:
    """Position on the parent exposure of the 1-based pixel ``(x, y)`` of an image cut from it.

    Parameters
    ----------
    header : astropy.io.fits.Header or None
        The image's header.
    x, y : float
        1-based pixel position in the image (FITS and SExtractor convention).

    Returns
    -------
    (float, float) or None
        1-based ``(x, y)`` in the exposure's pixels, from the header's ``LTV1``/``LTV2`` (and
        ``LTM`` for a binned copy): ``(x - LTV1, y - LTV2)`` for a plain cutout. ``None`` when the
        header has no such keyword (the image is the exposure, or does not say where it lies).

    Raises
    ------
    GalgenWCSError
        Keywords that are not numbers, or an ``LTM`` matrix that cannot be inverted.

    Examples
    --------
    >>> from astropy.io import fits
    >>> physical_position(fits.Header({"LTV1": -1000.0, "LTV2": -200.0}), 32.5, 32.5)
    (1032.5, 232.5)
    """
    if not has_physical(header):
        return None
    try:
        ltm, ltv = _physical_terms(header)
        xp, yp = np.linalg.solve(ltm, np.array([x, y], dtype=float) - ltv)
    except (TypeError, ValueError, np.linalg.LinAlgError) as exc:
        terms = {key: header[key] for key in PHYSICAL_KEYWORDS if key in header}
        msg = (f"the header's physical pixel keywords {terms} cannot place the image on its exposure "
               f"({exc}); remove them, or give the position yourself (--psf-position)")
        raise GalgenWCSError(msg) from None
    if not (np.isfinite(xp) and np.isfinite(yp)):
        msg = "the header's physical pixel keywords (LTV/LTM) are not finite; remove them"
        raise GalgenWCSError(msg)
    return float(xp), float(yp)


def exposure_position(header: fits.Header | None, x: float, y: float) -> tuple[float, float]:
    """Where a PSF model fitted on the exposure (PSFEx, SDSS psField) is evaluated for the 0-based
    pixel ``(x, y)`` of an image: the 1-based position on the exposure
    (:func:`physical_position`), or ``(x + 1, y + 1)`` when the image is not a cutout that says so."""
    return physical_position(header, x + 1.0, y + 1.0) or (float(x) + 1.0, float(y) + 1.0)


def centre_on_exposure(header: fits.Header | None, shape: tuple[int, int]) -> tuple[float, float] | None:
    """The centre of an ``(H, W)`` image on its exposure (1-based), where a PSF model of the exposure
    is evaluated for the whole image by default; ``None`` when the header does not say where the
    image lies (:func:`physical_position`)."""
    return physical_position(header, (shape[1] + 1) / 2, (shape[0] + 1) / 2)


def move_physical(header: fits.Header, offset: tuple[float, float] = (0.0, 0.0), scale: float = 1.0,
                  *, always: bool = False) -> fits.Header:
    """Rewrite ``LTV``/``LTM`` (in place) for a new pixel grid cut from and resampled from the old one.

    The new grid's 0-based pixel ``(0, 0)`` lies at the old grid's 0-based ``offset``, and its
    pixels are ``1 / scale`` of the old ones, edges aligned (a restoration at ``scale`` 2 or 4):
    ``l' = scale (l - offset - 1/2) + 1/2``, so ``LTM' = scale LTM`` and ``LTV' = scale (LTV - offset
    - 1/2) + 1/2``. The new grid then keeps the physical pixels of the exposure.

    Parameters
    ----------
    header : astropy.io.fits.Header
        Changed in place.
    offset : (float, float), default (0, 0)
        ``(x0, y0)``: where the new grid starts on the old one, 0-based old pixels.
    scale : float, default 1
        New pixels per old pixel along each axis.
    always : bool, default False
        Write the keywords even when the header had none (a cutout then says where it lies on
        the image it was cut from); by default a header without them is left as it is.

    Returns
    -------
    astropy.io.fits.Header
        ``header``.
    """
    if not always and not has_physical(header):
        return header
    try:
        ltm, ltv = _physical_terms(header)
    except (TypeError, ValueError):  # unreadable keywords: none is better than wrong ones
        for key in PHYSICAL_KEYWORDS:
            header.remove(key, ignore_missing=True, remove_all=True)
        return header
    ltv = scale * (ltv - np.asarray(offset, dtype=float) - 0.5) + 0.5
    ltm = scale * ltm
    header["LTV1"] = (float(ltv[0]), "this image's pixel = LTM x exposure pixel + LTV")
    header["LTV2"] = (float(ltv[1]), "this image's pixel = LTM x exposure pixel + LTV")
    for (i, j), value in np.ndenumerate(ltm):  # IRAF's defaults (1 on the diagonal, else 0) left out
        key = f"LTM{i + 1}_{j + 1}"
        if key in header or value != (1.0 if i == j else 0.0):
            header[key] = (float(value), "this image's pixels per exposure pixel")
    return header
