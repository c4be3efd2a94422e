"""SDSS ``psField`` files: the PSF of a frame at a position, from its Karhunen-Loeve templates.

SDSS's imaging pipeline (PHOTO) describes the PSF of each field and band as a few (typically
four) 51 x 51 eigen-images whose weights are polynomials in the position on the frame. A
``psField-RRRRRR-C-FFFF.fit`` file holds them in HDUs 1-5 for the bands u, g, r, i, z. galgen
reconstructs the PSF with pydl's port of the photoop IDL routine
(:func:`pydl.photoop.image.sdss_psf_recon`) instead of asking for SDSS's ``read_PSF`` tool, and
checks the result like any PSF image (:func:`galgen.psf.files.read_psf`). The templates are in
the frame's pixels (0.396"/px).

Positions are in the pixels of the SDSS ``frame`` (2048 columns x 1489 rows), 1-based like
galgen's other PSF positions, not in a cutout's.
"""

from __future__ import annotations

import logging
import os
import warnings

import numpy as np

from galgen.errors import GalgenPSFError

__all__ = ["SDSS_BANDS", "FRAME_SHAPE", "FRAME_CENTRE", "is_psfield", "psfield_kernel"]

log = logging.getLogger(__name__)

#: HDU of each band in a psField file.
SDSS_BANDS = {"u": 1, "g": 2, "r": 3, "i": 4, "z": 5}
#: An SDSS frame's (rows, columns), and its centre, 1-based (x, y): the position used when none is given.
FRAME_SHAPE = (1489, 2048)
FRAME_CENTRE = (1024.5, 745.0)
_COLUMNS = ("RROWS", "RNROW", "RNCOL", "NROW_B", "NCOL_B", "C")


def is_psfield(source: object, columns: list[str] | None = None) -> bool:
    """Whether ``source`` (a path) is an SDSS psField file: a FITS file whose first extension is
    a table with the KL-template columns ``RROWS``, ``RNROW``, ``RNCOL``, ``NROW_B``, ``NCOL_B``, ``C``
    (``columns``: that table's names, when already read by
    :func:`galgen.io.hdus.first_table_columns`)."""
    from galgen.io.hdus import first_table_columns

    names = first_table_columns(source) if columns is None else columns
    return all(c in names for c in _COLUMNS)


def _band_hdu(name: str, band: int | str | None) -> int:
    """HDU of a band given as a letter (``r``), an HDU number (3) or ``None`` (an error)."""
    if band is None:
        msg = (f"{name}: an SDSS psField file holds five bands (HDUs 1-5 = u, g, r, i, z) and the image "
               "does not say which it is (no FILTER keyword); name one as FILE[r] (--psf psField.fit[r])")
        raise GalgenPSFError(msg)
    if isinstance(band, str) and band.strip().lower() in SDSS_BANDS:
        return SDSS_BANDS[band.strip().lower()]
    if isinstance(band, int | np.integer) and 1 <= int(band) <= 5:
        return int(band)
    msg = f"{name}: {band!r} is not an SDSS band of a psField file; give u, g, r, i, z or HDU 1-5 (FILE[r])"
    raise GalgenPSFError(msg)


def psfield_kernel(path: str | os.PathLike, band: int | str | None,
                   position: tuple[float, float] | None = None) -> tuple[np.ndarray, str]:
    """Reconstruct the PSF of one band of an SDSS psField file at a position of its frame.

    Parameters
    ----------
    path : path
        The ``psField-*.fit`` file.
    band : str or int
        ``"u"``, ``"g"``, ``"r"``, ``"i"``, ``"z"`` or the HDU number 1-5.
    position : (float, float), optional
        ``(x, y)`` in the frame's pixels (1-based; x along the 2048 columns); default the frame's
        centre (:data:`FRAME_CENTRE`), which the log says.

    Returns
    -------
    kernel : numpy.ndarray
        ``(51, 51)`` (the templates' size), sum 1, one frame pixel per pixel.
    note : str
        Band and position, for provenance.

    Raises
    ------
    GalgenPSFError
        No band, a band that is not u-z, a position off the frame, a file pydl cannot
        reconstruct, or a reconstruction with no positive total.
    """
    from astropy.io import fits

    name = str(path)
    hdu = _band_hdu(name, band)
    if position is None:
        position = FRAME_CENTRE
        log.warning("%s: psField PSF reconstructed at the frame's centre (%.1f, %.1f); for a stamp cut "
                    "from elsewhere in the frame give its position (galgen restore --psf-position X,Y, or "
                    "LTV1/LTV2 in the stamp's header; a catalog run over the frame places each galaxy)",
                    name, *position)
    x, y = (float(v) for v in position)
    if not (np.isfinite(x) and np.isfinite(y)):
        msg = f"{name}: psField position ({x}, {y}) is not finite"
        raise GalgenPSFError(msg)
    if not (0.5 <= x <= FRAME_SHAPE[1] + 0.5 and 0.5 <= y <= FRAME_SHAPE[0] + 0.5):
        msg = (f"{name}: ({x:.1f}, {y:.1f}) is not on an SDSS frame (x 1-{FRAME_SHAPE[1]}, "
               f"y 1-{FRAME_SHAPE[0]}): a psField PSF is for positions in its own frame's pixels, not a "
               "cutout's or a mosaic's")
        raise GalgenPSFError(msg)
    try:
        with warnings.catch_warnings():  # pydl's import builds astropy's deprecated TestRunner
            warnings.simplefilter("ignore")
            from pydl.photoop.image import sdss_psf_recon
    except Exception as exc:  # noqa: BLE001 - missing, or broken by a newer astropy
        msg = (f"{name}: reading an SDSS psField file needs pydl ({exc}); pip install pydl, or give the "
               "PSF image SDSS's read_PSF writes")
        raise GalgenPSFError(msg) from None
    try:
        with fits.open(path, memmap=False) as hdul:
            table = hdul[hdu].data
            image = np.asarray(sdss_psf_recon(table, x - 1.0, y - 1.0), np.float64)  # pydl: 0-based
    except (OSError, KeyError, ValueError, IndexError, TypeError) as exc:
        msg = f"{name}: HDU {hdu} is not a psField PSF table pydl can reconstruct ({exc})"
        raise GalgenPSFError(msg) from None
    total = float(image.sum())
    if not np.all(np.isfinite(image)) or not total > 0:
        msg = f"{name}: the psField PSF of HDU {hdu} at ({x:.1f}, {y:.1f}) has no positive total"
        raise GalgenPSFError(msg)
    letter = "ugriz"[hdu - 1]
    return image / total, f"SDSS psField band {letter} at x={x:.1f}, y={y:.1f}"
