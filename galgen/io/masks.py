"""Which pixels a mask, data-quality or coverage plane marks as bad.

Surveys mark pixels in integer masks by bits whose meaning differs: every bit is bad in a plain
bad-pixel map or an HST ``DQ``; LSST/HSC name their planes in the header (``MP_<NAME> = bit``) and
only some mark bad data; a JWST ``DQ`` marks them by ``DO_NOT_USE``. Drizzle's ``WHT`` marks the
pixels no exposure covers. The user may say which bits mark usable pixels (``--mask-ignore``).
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits

from galgen.errors import GalgenValueError

__all__ = ["BAD_MASK_PLANES", "bad_mask_bits", "mask_bits", "bad_pixels", "uncovered_pixels"]

#: Planes of an LSST/HSC-style ``MASK`` HDU (bit ``n`` named by a header keyword ``MP_<NAME> = n``)
#: that mark a pixel without a good measurement. The other planes describe good pixels and are
#: ignored: ``DETECTED`` (set on every pixel of every source, the galaxy included),
#: ``DETECTED_NEGATIVE``, ``CLIPPED``, ``CROSSTALK``, ``NOT_DEBLENDED``, ``INEXACT_PSF``, ``REJECTED``,
#: ``BRIGHT_OBJECT``, ``STREAK``, ... A JWST ``DQ`` (``TELESCOP = 'JWST'``) marks bad pixels by its
#: bit 0, ``DO_NOT_USE``; its other bits (``JUMP_DET``, set wherever a cosmic ray was fitted out of
#: the ramp, ``OUTLIER``, ...) describe usable pixels. A mask without either convention (HST ``DQ``,
#: a bad-pixel map) marks every pixel whose value is not 0.
BAD_MASK_PLANES = ("BAD", "SAT", "CR", "NO_DATA", "SUSPECT", "EDGE", "SENSOR_EDGE", "UNMASKEDNAN", "INTRP")


def bad_mask_bits(header: fits.Header, telescope: str | None = None, ignore: int = 0) -> int:
    """The bits of a mask HDU that mark bad pixels: those of :data:`BAD_MASK_PLANES` when the header
    names its planes (``MP_<NAME> = bit``, LSST/HSC), ``DO_NOT_USE`` (1) for a JWST ``DQ``, else
    every bit (``-1``); less the bits of ``ignore`` (:func:`mask_bits`), which the user says mark
    usable pixels."""
    planes = {str(k)[3:].upper(): v for k, v in header.items() if str(k).upper().startswith("MP_")}
    if planes:
        bits = sum(1 << int(planes[name]) for name in BAD_MASK_PLANES if name in planes)
    elif str(telescope or header.get("TELESCOP", "")).strip().upper() == "JWST":
        bits = 1
    else:
        bits = -1
    return bits & ~ignore if ignore else bits


def mask_bits(value: object) -> int:
    """Mask bits given as an int or as text: values joined by ``,`` or ``+``, each decimal or hex
    (``"64,32"``, ``"0x4000"``; a value may hold several bits). 0 for ``None``.

    astropy's :func:`~astropy.nddata.bitmask.interpret_bit_flags` reads the same lists but no hex,
    in which Pan-STARRS1 documents its mask bits; hence this small parser.

    Raises
    ------
    GalgenValueError
        Not a whole number, or negative.

    Examples
    --------
    >>> mask_bits("64,32"), mask_bits("0x4000"), mask_bits("16+0x20"), mask_bits(None)
    (96, 16384, 48, 0)
    """
    if value is None:
        return 0
    if isinstance(value, bool):
        value = "bool"  # refused below: True is not a bit
    text = str(value).strip()
    try:
        parts = [int(part.strip(), 0) for part in text.replace("+", ",").split(",")]
    except ValueError:
        parts = [-1]
    if not parts or min(parts) < 0:
        msg = (f"mask bits {value!r}: give whole numbers >= 0 joined by ',' or '+', decimal or hex "
               "(e.g. 64,32 or 0x4000)")
        raise GalgenValueError(msg)
    bits = 0
    for part in parts:
        bits |= part
    return bits


def bad_pixels(mask: np.ndarray, bits: int = -1) -> np.ndarray:
    """``(H, W)`` bool: where an integer ``mask`` has any of ``bits`` set (a float or bool mask: where
    it is not 0).

    Examples
    --------
    >>> hdr = fits.Header([("MP_BAD", 0), ("MP_SAT", 1), ("HIERARCH MP_DETECTED", 5)])
    >>> bad_pixels(np.array([0, 1, 2, 32, 34]), bad_mask_bits(hdr)).tolist()
    [False, True, True, False, True]
    >>> bad_pixels(np.array([0, 1, 2, 32, 34])).tolist()
    [False, True, True, True, True]
    """
    mask = np.asarray(mask)
    if bits == -1 or not np.issubdtype(mask.dtype, np.integer):
        return mask != 0
    return (mask.astype(np.int64, copy=False) & bits) != 0  # int64: a plane up to bit 62 of any dtype


def uncovered_pixels(weight: np.ndarray) -> np.ndarray:
    """``True`` where drizzle's ``WHT`` plane (:data:`galgen.io.hdus.COVERAGE_NAMES`) says no exposure covers
    the pixel: a weight that is not > 0 (0, negative, NaN)."""
    return ~(np.asarray(weight) > 0)
