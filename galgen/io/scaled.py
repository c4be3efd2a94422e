"""Pixels stored through a non-linear transform, read back as linear flux.

Pan-STARRS1 (PS1) stacks and warps, as its image cutout service hands them out, store each
pixel as ``v = a asinh((f - BOFFSET) / (2 BSOFTEN))`` with ``a = 2.5 / ln 10`` (a luptitude-like
compression that keeps faint sky and bright cores in one float range); their variance (``.wt``)
images are stored the same way with their own keywords. Read as they are, a galaxy's core would
be restored as if it were a hundred times fainter than it is. galgen undoes the transform,
``f = BOFFSET + 2 BSOFTEN sinh(v / a)``, wherever it reads a plane whose header has both
``BSOFTEN`` and ``BOFFSET``: images (:func:`galgen.io.read_image`), noise maps and catalog
mosaics (memory-mapped: each stamp's slice is made linear when it is cut, :class:`LinearView`).
The keywords are then taken out of the header that describes the linear data, and ``HISTORY``
says so: a PS1 reader applying them to galgen's output would compress it twice.
"""

from __future__ import annotations

import logging

import numpy as np
from astropy.io import fits

from galgen.errors import GalgenValueError

__all__ = ["ASINH_KEYWORDS", "asinh_terms", "linearize", "LinearView", "linear_plane", "linear_image",
           "linear_header"]

log = logging.getLogger(__name__)

#: The keywords of PS1's asinh compression: softening and offset, in linear flux units.
ASINH_KEYWORDS = ("BSOFTEN", "BOFFSET")
_A = 2.5 / np.log(10.0)


def asinh_terms(header: fits.Header | None, source: str = "") -> tuple[float, float] | None:
    """``(BSOFTEN, BOFFSET)`` of an asinh-compressed plane, ``None`` when its header lacks them.

    Raises
    ------
    GalgenValueError
        One keyword without the other, or a value that is not a finite number (``BSOFTEN > 0``).
    """
    if header is None or not any(key in header for key in ASINH_KEYWORDS):
        return None
    try:
        soften, offset = float(header["BSOFTEN"]), float(header["BOFFSET"])
    except (KeyError, TypeError, ValueError) as exc:
        found = {key: header.get(key) for key in ASINH_KEYWORDS}
        msg = (f"{source}: the header's asinh compression keywords {found} cannot be undone ({exc}); "
               "PS1 planes carry both BSOFTEN and BOFFSET as numbers")
        raise GalgenValueError(msg) from None
    if not (np.isfinite(soften) and soften > 0 and np.isfinite(offset)):
        msg = f"{source}: BSOFTEN = {soften}, BOFFSET = {offset}: not an asinh compression galgen can undo"
        raise GalgenValueError(msg)
    return soften, offset


def linearize(values: np.ndarray, terms: tuple[float, float] | None) -> np.ndarray:
    """Linear flux of asinh-compressed ``values`` (float64; ``values`` themselves when ``terms`` is
    ``None``).

    Examples
    --------
    >>> import numpy as np
    >>> f = np.array([-3.0, 0.0, 10.0, 1e5])
    >>> v = 2.5 / np.log(10) * np.arcsinh((f - 1.0) / (2 * 4.0))  # BSOFTEN 4, BOFFSET 1
    >>> np.allclose(linearize(v, (4.0, 1.0)), f)
    True
    """
    if terms is None:
        return values
    soften, offset = terms
    return offset + 2.0 * soften * np.sinh(np.asarray(values, dtype=np.float64) / _A)


class LinearView:
    """A read-only view of an asinh-compressed array (a memory map) whose slices come out linear:
    ``view[rows, cols]`` is :func:`linearize` of that slice only."""

    def __init__(self, array: np.ndarray, terms: tuple[float, float]) -> None:
        self.array, self.terms = array, terms

    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape

    @property
    def ndim(self) -> int:
        return self.array.ndim

    def __getitem__(self, key: object) -> np.ndarray:
        return linearize(self.array[key], self.terms)

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        out = linearize(self.array, self.terms)
        return out if dtype is None else out.astype(dtype)


def _said(source: str, terms: tuple[float, float]) -> None:
    log.info("%s: asinh-compressed pixels (PS1: BSOFTEN = %g, BOFFSET = %g) read as linear flux", source,
             *terms)


def linear_plane(data: np.ndarray, header: fits.Header | None, source: str) -> np.ndarray | LinearView:
    """``data`` as linear flux: a :class:`LinearView` of it when its header says it is
    asinh-compressed (logged), else ``data`` itself."""
    terms = asinh_terms(header, source)
    if terms is None:
        return data
    _said(source, terms)
    return LinearView(data, terms)


def linear_image(data: np.ndarray, header: fits.Header, source: str) -> tuple[np.ndarray, fits.Header]:
    """``data`` as linear flux (float64) and a copy of ``header`` that describes it
    (:func:`linear_header`) when the header says it is asinh-compressed (logged); else both as
    they are."""
    terms = asinh_terms(header, source)
    if terms is None:
        return data, header
    _said(source, terms)
    return linearize(data, terms), linear_header(header.copy())


def linear_header(header: fits.Header) -> fits.Header:
    """``header`` (in place) without the compression keywords, with a ``HISTORY`` line saying the
    data it describes are linear."""
    terms = asinh_terms(header)
    if terms is not None:
        for key in ASINH_KEYWORDS:
            header.remove(key, ignore_missing=True, remove_all=True)
        header.add_history(f"galgen read: asinh-compressed pixels (BSOFTEN = {terms[0]:g}, BOFFSET = "
                           f"{terms[1]:g}) made linear: f = BOFFSET + 2 BSOFTEN sinh(v / (2.5 / ln 10))")
    return header
