"""The HDUs of a FITS file: which holds the image, and the planes beside it.

A survey file holds its image with companion planes of the same shape: a mask (``MASK``, ``DQ``,
...), an uncertainty as a standard deviation, variance or inverse variance (``ERR``, ``VAR``,
``IVAR``, ``WGT``, ...) and drizzle's coverage (``WHT``); a multi-chip file (HST ``flt``) holds one
set per chip, told apart by ``EXTVER``. HDUs are named as CFITSIO and DS9 name them:
``file.fits[SCI,2]``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from astropy.io import fits

from galgen.errors import GalgenValueError

__all__ = ["MASK_NAMES", "STD_NAMES", "VAR_NAMES", "IVAR_NAMES", "COVERAGE_NAMES", "hdu_key",
           "split_extension", "first_table_columns", "pick_image_hdu", "companion_hdu", "uncertainty_plane",
           "as_std"]

log = logging.getLogger(__name__)

MASK_NAMES = ("MASK", "BPM", "DQ", "FLAGS", "MSK")  # MSK: DES/DECam
STD_NAMES = ("ERR", "SIGMA", "UNCERT", "STD", "RMS")
VAR_NAMES = ("VAR", "VARIANCE")
#: Inverse-variance planes: DES/DECam ``WGT``, Legacy Surveys' ``invvar``, SWarp's ``WEIGHT``. Not
#: drizzle's ``WHT``: by default an exposure-time map, with no noise scale in it.
IVAR_NAMES = ("IVAR", "INVVAR", "WGT", "WEIGHT")
#: Drizzle's weight (HST ``drz``/``drc``, JWST ``i2d``): no noise scale, but 0 where no exposure
#: covers a pixel, whose value is then a fill (0 for HST): such pixels are masked.
COVERAGE_NAMES = ("WHT",)


def hdu_key(hdu: int | str) -> int | str | tuple[str, int]:
    """An HDU as astropy indexes it: ``'SCI,2'`` (EXTNAME and EXTVER, as CFITSIO writes them) ->
    ``('SCI', 2)``; an index or a plain name unchanged.

    >>> hdu_key("SCI,2"), hdu_key("PSF"), hdu_key(1)
    (('SCI', 2), 'PSF', 1)
    """
    if isinstance(hdu, str) and (pair := re.fullmatch(r"\s*([^,]+?)\s*,\s*(\d+)\s*", hdu)):
        return pair.group(1), int(pair.group(2))
    return hdu


def split_extension(path: str | os.PathLike) -> tuple[str | os.PathLike, int | str | None]:
    """``"stamp.fits[PSF]"`` -> ``("stamp.fits", "PSF")``, ``"f.fits[2]"`` -> ``("f.fits", 2)`` (the
    FITS extension syntax of CFITSIO and DS9); a path without brackets comes back unchanged."""
    match = re.fullmatch(r"(.+)\[([^\[\]]+)\]", str(path))
    if match is None:
        return path, None
    ext = match.group(2).strip()
    return match.group(1), int(ext) if ext.isdigit() else ext


def first_table_columns(source: object) -> list[str]:
    """The column names (upper case) of a FITS file's first extension when it is a binary table,
    as PSF model files have (PSFEx ``.psf``, SDSS ``psField``); ``[]`` for anything else (not a
    path, no such file, not FITS, no table there)."""
    if not isinstance(source, str | os.PathLike) or not Path(source).is_file():
        return []
    try:
        with fits.open(source, memmap=False) as hdul:
            if len(hdul) > 1 and isinstance(hdul[1], fits.BinTableHDU):
                return [n.upper() for n in hdul[1].columns.names]
    except (OSError, ValueError):
        pass
    return []


def pick_image_hdu(hdul: fits.HDUList, hdu: int | str | None, name: str) -> tuple[int, fits.ImageHDU]:
    """``(index, HDU)`` of the image to read: ``hdu`` (an index, a name or ``'SCI,2'``) when given,
    else the first HDU holding an image of 2 or more axes (a file of several chips says which it
    read and how to pick another). ``name`` names the file in messages.

    Raises
    ------
    GalgenValueError
        No such HDU, or it (or every HDU) holds no image.
    """
    if hdu is not None:
        try:
            index = hdul.index_of(hdu_key(hdu))
            if not -len(hdul) <= index < len(hdul):  # index_of passes any integer through
                raise IndexError(index)
        except (KeyError, IndexError):
            names = [h.name for h in hdul]
            msg = f"{name}: no HDU {hdu!r}; it has {len(hdul)} HDUs named {names}. Pick one with hdu="
            raise GalgenValueError(msg) from None
        chosen = hdul[index]
        if not chosen.is_image or chosen.header.get("NAXIS", 0) < 2:
            msg = (
                f"{name}: HDU {hdu!r} holds no image (it is a {type(chosen).__name__} with "
                f"NAXIS={chosen.header.get('NAXIS', 0)}); choose an image HDU with hdu="
            )
            raise GalgenValueError(msg)
        return index, chosen
    for index, candidate in enumerate(hdul):
        if candidate.is_image and candidate.header.get("NAXIS", 0) >= 2:
            chips = [h.ver for h in hdul if h.name == candidate.name and h.is_image]
            if candidate.name != "PRIMARY" and len(chips) > 1:  # HST flt/flc: SCI,1 and SCI,2
                log.warning("%s: %d image HDUs are named %s (EXTVER %s); reading %s,%s. Pick another as "
                            "hdu='%s,%s'", name, len(chips), candidate.name, ", ".join(map(str, chips)),
                            candidate.name, candidate.ver, candidate.name, chips[1])
            return index, candidate
    msg = f"{name}: no HDU holds an image (HDUs: {[h.name for h in hdul]}); is it a table file?"
    raise GalgenValueError(msg)


def companion_hdu(hdul: fits.HDUList, names: Iterable[str], shape: tuple[int, ...],
                   extver: int | None = None) -> fits.ImageHDU | None:
    """The first HDU named one of ``names`` holding an image of ``shape``. With ``extver`` (the
    image's ``EXTVER``: chip 2 of an HST ``flt`` file is ``SCI,2`` beside ``ERR,2`` and ``DQ,2``) the
    one of that ``EXTVER``; ``None`` when all of them carry other ``EXTVER`` s (other chips' planes)."""
    found = [hdu for hdu in hdul if hdu.name.upper() in names and hdu.is_image and hdu.data is not None
             and hdu.data.shape == shape]
    if extver is not None and found:
        same = [hdu for hdu in found if hdu.header.get("EXTVER") == extver]
        if same:
            return same[0]
        if all(hdu.header.get("EXTVER") is not None for hdu in found):
            return None
    return found[0] if found else None


def _companion(hdul: fits.HDUList, names: Iterable[str], shape: tuple[int, ...],
               extver: int | None = None) -> np.ndarray | None:
    hdu = companion_hdu(hdul, names, shape, extver)
    return None if hdu is None else np.asarray(hdu.data)


def uncertainty_plane(hdul: fits.HDUList, shape: tuple[int, ...],
                      extver: int | None = None) -> tuple[np.ndarray | None, str]:
    """The first companion uncertainty HDU of ``shape`` (of ``EXTVER`` ``extver`` when given, see
    :func:`companion_hdu`) and what it holds: ``("std" | "var" | "ivar")``, looked up as
    ``ERR``-like names, then ``VAR``/``VARIANCE``, then ``IVAR``/``INVVAR``/``WGT``/``WEIGHT``;
    ``(None, "")`` without one. The array is the HDU's (a memory map if the file is)."""
    for names, kind in ((STD_NAMES, "std"), (VAR_NAMES, "var"), (IVAR_NAMES, "ivar")):
        if (plane := _companion(hdul, names, shape, extver)) is not None:
            return plane, kind
    return None, ""


def as_std(plane: np.ndarray, kind: str) -> np.ndarray:
    """An uncertainty plane of ``kind`` (see :func:`uncertainty_plane`) as a standard deviation
    (float64; an inverse variance of 0, no data, becomes ``inf``)."""
    plane = np.asarray(plane, np.float64)
    if kind == "var":
        return np.sqrt(np.clip(plane, 0, None))
    if kind == "ivar":
        with np.errstate(divide="ignore"):
            return np.where(plane > 0, 1.0 / np.sqrt(np.clip(plane, 1e-300, None)), np.inf)
    return plane
