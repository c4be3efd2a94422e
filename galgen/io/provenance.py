"""Provenance keywords (``GALGEN*`` and ``HISTORY``) for galgen's FITS outputs."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping

from astropy.io import fits

from galgen._version import __version__

__all__ = ["add_provenance", "INPUT_ONLY_KEYWORDS", "pop_input_descriptors"]

#: Keywords of an input header that describe the *input* image (its PSF, its per-pixel noise,
#: its pixels and their sections, its source's measured flux): not carried to an image galgen
#: derives from it (restored or translated), whose PSF and pixels differ. (IRAF's ``LTV``/``LTM``
#: are carried, rewritten for the new grid: :func:`galgen.io.wcs.move_physical`.)
INPUT_ONLY_KEYWORDS = ("PSFFWHM", "PSFTYPE", "FWHM", "SEEING", "PSF_FWHM", "NOISERMS", "SKYNOISE",
                       "SKYSIG", "SKYRMS", "SNR", "FLUX", "SATURATE", "SATLEVEL", "PIXSCALE", "DATASEC",
                       "TRIMSEC", "BIASSEC")


def pop_input_descriptors(header: fits.Header) -> list[tuple[str, object]]:
    """Remove :data:`INPUT_ONLY_KEYWORDS` from ``header`` (in place); return ``(key, value)`` of
    those it held, to be recorded as provenance (``"input KEY"``).

    The input's WCS keywords go too: the output's WCS is its own (``CCDData.wcs``), written over
    them, and those it would not overwrite (an alternate WCS such as HST's ``CRPIX1O``,
    lookup-table distortions) describe the input's pixels. A lookup-table distortion (HST
    ``flt``/``flc``: ``CPDIS``, ``D2IMDIS``; its tables lie in other HDUs of the input) is
    recorded as left out: the output's WCS has the input's CD and SIP terms, rescaled, and no
    reader could build a WCS from those keywords without the tables."""
    from galgen.io.wcs import _WCS_KEY, has_lookup_distortion

    found = [(k, header[k]) for k in INPUT_ONLY_KEYWORDS if k in header]
    for key, _ in found:
        header.remove(key, remove_all=True)
    if has_lookup_distortion(header):
        found.append(("distortion tables", "not carried (CPDIS/D2IMDIS lookup tables, in other HDUs of "
                                           "the input); the WCS has its CD and SIP terms only"))
    # record-valued cards (DP1.EXTVER) go by their full keyword: remove("DP1") leaves them
    for key in [c.keyword for c in header.cards if _WCS_KEY.match(c.keyword)]:
        if key in header:
            del header[key]
    return found


def add_provenance(
    header: fits.Header,
    operation: str,
    params: Mapping[str, object] | None = None,
    model_name: str | None = None,
    model_hash: str | None = None,
) -> fits.Header:
    """Record what galgen did to an image in its header (in place, also returned).

    Adds ``GALGENV`` (version), ``GALGENOP`` (operation), ``GALGENMD`` and
    ``GALGENMH`` (model name and sha256, when a model was used), ``GALGENDT``
    (UTC time) and one ``HISTORY`` line per parameter, so that the result can be
    reproduced from the header alone.

    Parameters
    ----------
    header : astropy.io.fits.Header
        Header to extend.
    operation : str
        What was done, e.g. ``"restore"`` or ``"simulate"``.
    params : mapping, optional
        Parameters of the operation (values are written with ``str``).
    model_name, model_hash : str, optional
        Name and sha256 of the model weights used.

    Returns
    -------
    astropy.io.fits.Header
    """
    header["GALGENV"] = (__version__, "galgen version")
    header["GALGENOP"] = (operation, "galgen operation")
    if model_name is not None:
        header["GALGENMD"] = (model_name, "galgen model name")
    if model_hash is not None:
        header["GALGENMH"] = model_hash[:64]  # sha256 of the weights (no room for a comment)
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    header["GALGENDT"] = (now, "UTC time of the galgen operation")
    header.add_history(f"galgen {__version__} {operation} {now} UTC")
    for key, value in (params or {}).items():
        text = f"galgen {operation}: {key} = {value}"
        header.add_history("".join(c if 32 <= ord(c) < 127 else "?" for c in text))
    return header
