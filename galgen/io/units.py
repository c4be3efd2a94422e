"""Image units: flux per pixel or per solid angle (surface brightness); linear or logarithmic.

galgen's arithmetic (convolution, flux-conserving resampling, the networks) works on flux per
pixel: restoring x2 splits each pixel's flux over four, and a translation to coarser pixels sums
it. That is right for counts, ADU, electrons/s, nanomaggies or Jy per pixel. An image whose
``BUNIT`` is per solid angle (JWST's and Spitzer's ``MJy/sr``, ``erg/s/cm2/A/arcsec2``, radio
``Jy/beam``) holds surface brightness, which does not change when the pixels do: its restored or
translated values must be scaled back by the ratio of the pixel areas. Magnitudes are
logarithmic: no convolution or resampling applies to them.
"""

from __future__ import annotations

import re

import astropy.units as u
from astropy.units.function.mixin import FunctionMixin

from galgen.errors import GalgenValueError

__all__ = ["is_surface_brightness", "require_linear_unit", "parse_bunit"]


def is_surface_brightness(unit: u.UnitBase | None) -> bool:
    """Whether ``unit`` is per solid angle (its angle power is -2, or it is per beam).

    Parameters
    ----------
    unit : astropy.units.UnitBase or None
        An image's unit (``None`` or an unrecognised ``BUNIT``: taken as per pixel).

    Returns
    -------
    bool

    Examples
    --------
    >>> import astropy.units as u
    >>> is_surface_brightness(u.MJy / u.sr), is_surface_brightness(u.nJy / u.arcsec**2)
    (True, True)
    >>> is_surface_brightness(u.electron / u.s), is_surface_brightness(u.adu), is_surface_brightness(None)
    (False, False, False)
    """
    if unit is None or isinstance(unit, u.UnrecognizedUnit):
        return False
    try:
        si = unit.decompose()
    except (AttributeError, u.UnitsError, ValueError):  # function units (mag) have no decomposition
        return False
    bases = dict(zip(si.bases, si.powers, strict=True))
    return bases.get(u.rad, 0) == -2 or bases.get(u.beam, 0) == -1


def require_linear_unit(unit: u.UnitBase | None, source: str) -> None:
    """Raise :class:`~galgen.errors.GalgenValueError` for a logarithmic unit (magnitudes, dex).

    Examples
    --------
    >>> import astropy.units as u
    >>> require_linear_unit(u.MJy / u.sr, "a.fits")
    >>> require_linear_unit(u.nmgy, "nanomaggies.fits")
    >>> require_linear_unit(u.Unit("mag / arcsec2"), "b.fits")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    galgen.errors.GalgenValueError: b.fits: BUNIT 'mag / arcsec2' is logarithmic (magnitudes); ...
    """
    if unit is None or isinstance(unit, u.UnrecognizedUnit):
        return
    parts = [unit, *getattr(unit, "bases", [])]
    if any(isinstance(p, u.FunctionUnitBase | FunctionMixin) for p in parts):  # mag, dex, mag(AB)
        msg = (f"{source}: BUNIT '{unit}' is logarithmic (magnitudes); galgen needs linear flux "
               "(e.g. 10**(-0.4 (m - ZP)) per pixel or per arcsec2)")
        raise GalgenValueError(msg)


#: Spellings of units that pipelines write and astropy does not read, by lower-case word: plurals,
#: SDSS's nanomaggies, and ``cps``.
_WORDS = {"electrons": "electron", "counts": "count", "cts": "count", "photons": "photon",
          "nanomaggies": "nmgy", "nanomaggy": "nmgy", "maggies": "mgy", "maggy": "mgy", "sec": "s",
          "pixel": "pix", "pixels": "pix", "cps": "count / s", "adu": "adu", "microjy": "uJy",
          "nanojy": "nJy", "millijy": "mJy", "jansky": "Jy", "microjansky": "uJy", "nanojansky": "nJy",
          "millijansky": "mJy"}
#: Words of an all-capitals BUNIT (``MJY/SR``, ``ELECTRONS/S``), by capitals: capitals cannot be
#: lowered blindly (``MJY`` is a megajansky, ``mJy`` a millijansky).
_CAPITALS = {"MJY": "MJy", "JY": "Jy", "UJY": "uJy", "NJY": "nJy", "SR": "sr", "ARCSEC": "arcsec",
             "ARCSEC2": "arcsec2", "S": "s", "ADU": "adu", "DN": "DN", "ERG": "erg", "CM": "cm", "CM2": "cm2",
             "A": "Angstrom", "ANGSTROM": "Angstrom", "HZ": "Hz", "PIX": "pix", "BEAM": "beam", "W": "W",
             "ELECTRON": "electron", "COUNT": "count", "PHOTON": "photon", "NMGY": "nmgy",
             "M": "m", "M2": "m2", "NM": "nm", "UM": "um"}
#: Words that make a BUNIT magnitudes (``MAG``, ``MAG_AB``, ``ABmag``, ``mag/arcsec2``).
_MAGNITUDE_WORDS = {"mag", "mags", "magnitude", "magnitudes", "abmag", "stmag", "vegamag"}


def parse_bunit(text: str | None) -> u.UnitBase | None:
    """An image's ``BUNIT`` as an astropy unit, reading the spellings pipelines use.

    Tried in turn: the FITS standard, astropy's generic format, then the words of
    :data:`_WORDS` (``ELECTRONS/S``, ``counts/s/arcsec2``, ``nanomaggies``) and, for an all-capitals
    text, :data:`_CAPITALS` (``MJY/SR`` is MJy/sr: surface brightness). A text that is still
    unreadable becomes an ``UnrecognizedUnit`` holding it (taken as flux per pixel), unless it
    names magnitudes (``MAG``, ``MAG_AB``): those come back as ``mag`` so that
    :func:`require_linear_unit` refuses them.

    Examples
    --------
    >>> parse_bunit("MJY/SR"), parse_bunit("ELECTRONS/S"), parse_bunit("nanomaggies")
    (Unit("MJy / sr"), Unit("electron / s"), Unit("nmgy"))
    >>> parse_bunit("DN/S"), parse_bunit("ERG/S/CM2/A"), parse_bunit("E-/S")
    (Unit("DN / s"), Unit("erg / (Angstrom s cm2)"), Unit("electron / s"))
    >>> parse_bunit("MAG_AB"), parse_bunit("my own unit")
    (Unit("mag"), UnrecognizedUnit(my own unit))
    """
    if text is None or not str(text).strip():
        return None
    text = str(text).strip()
    from galgen._warnings import quiet

    # all capitals: the respelling first, or DN/S would be a siemens and ERG/S/CM2/A an ampere
    candidates = (_respelled(text), text) if text.upper() == text else (text, _respelled(text))
    with quiet():
        for candidate in candidates:
            for fmt in ("fits", "generic"):
                try:
                    return u.Unit(candidate, format=fmt)
                except ValueError:
                    continue
        if _MAGNITUDE_WORDS & {w.lower() for w in re.findall(r"[A-Za-z]+", text)}:
            return u.mag
        return u.Unit(text, parse_strict="silent")  # UnrecognizedUnit keeps the text


def _respelled(text: str) -> str:
    capitals = text.upper() == text

    def word(match: re.Match) -> str:
        w = match.group(0)
        if w.lower() in _WORDS:
            return _WORDS[w.lower()]
        return _CAPITALS.get(w, w) if capitals else w

    text = re.sub(r"(?<![A-Za-z])[eE]-?(?=\s*/)", "electron", text)  # e-/s, E-/S, e/s
    text = re.sub(r"(?<![A-Za-z])[eE]-(?![A-Za-z0-9])", "electron", text)  # a plain e-
    return re.sub(r"[A-Za-z]+[0-9]?", word, text)
