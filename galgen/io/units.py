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

import astropy.units as u
from astropy.units.function.mixin import FunctionMixin

from galgen.errors import GalgenValueError

__all__ = ["is_surface_brightness", "require_linear_unit"]


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
