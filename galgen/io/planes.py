"""Noise maps and masks kept in files of their own, beside the image they describe.

Many survey products split a coadd into files: the Legacy Surveys' ``-image-`` and
``-invvar-`` bricks, DECam Community Pipeline ``ooi`` / ``oow`` (weight) / ``ood`` (data quality)
exposures, Euclid MER mosaics with their ``RMS`` and ``FLAG`` files, SWarp's weight maps.
galgen reads such a plane like one in the image's own file (:func:`galgen.io.read_image`):
a noise map becomes the image's uncertainty (a standard deviation) and a mask marks bad pixels.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
from astropy.io import fits

from galgen.errors import GalgenFileError, GalgenValueError
from galgen.io.fits import Image
from galgen.io.hdus import as_std, hdu_key, split_extension
from galgen.io.masks import bad_mask_bits, bad_pixels, mask_bits
from galgen.io.scaled import ASINH_KEYWORDS, linear_plane

__all__ = ["NOISE_MAP_TYPES", "guess_noise_map_type", "check_noise_map_type", "open_plane", "open_noise_map",
           "open_mask", "attach_planes", "with_own_planes"]

log = logging.getLogger(__name__)

#: What a noise map holds: an inverse variance (a weight map), a variance, a standard deviation.
NOISE_MAP_TYPES = ("ivar", "var", "std")
#: Words in a noise map's EXTNAME or file name that say what it holds (``oow``: a DECam
#: Community Pipeline weight map). A drizzle ``WHT`` is an exposure-time map by default: not here.
_TYPE_WORDS = {"ivar": ("ivar", "invvar", "weight", "wgt", "oow"), "var": ("var", "variance"),
               "std": ("rms", "err", "error", "sigma", "std", "noise")}


def guess_noise_map_type(path: str | os.PathLike, header: fits.Header | None = None) -> str | None:
    """What a noise map holds (one of :data:`NOISE_MAP_TYPES`) as its ``EXTNAME`` or file name
    says; ``None`` when neither does.

    >>> guess_noise_map_type("legacysurvey-1234p567-invvar-r.fits.fz")
    'ivar'
    >>> guess_noise_map_type("EUC_MER_RMS.fits")
    'std'
    >>> guess_noise_map_type("c4d_oow_r.fits.fz"), guess_noise_map_type("map.fits") is None
    ('ivar', True)

    A Pan-STARRS1 ``.wt`` image (asinh-compressed: ``BSOFTEN`` and ``BOFFSET`` in its header, see
    :mod:`galgen.io.scaled`) is a variance, although its name says "weight".
    """
    def words(name: str) -> set[str]:
        return {w.lower() for w in re.split(r"[^A-Za-z]+", name) if w}

    in_name = words(Path(str(path)).name)
    if "wt" in in_name and header is not None and all(key in header for key in ASINH_KEYWORDS):
        return "var"
    for said_here in (words(str((header or {}).get("EXTNAME", ""))), in_name):
        found = [kind for kind, said in _TYPE_WORDS.items() if said_here & set(said)]
        if len(found) == 1:
            return found[0]
    return None


def open_plane(source: str | os.PathLike, shape: tuple[int, int], what: str,
               *, memmap: bool = False) -> tuple[np.ndarray, fits.Header, fits.HDUList]:
    """The 2-D plane of a file (``FILE`` or ``FILE[EXT]``; the first image HDU by default) that
    must have ``shape``: its data, its header and the open file (close it when done; with
    ``memmap`` the data are a memory map of it).

    Raises
    ------
    GalgenFileError
        No such file, or not FITS.
    GalgenValueError
        No image in it, or one of another shape than the image's.
    """
    path, ext = (source, None) if Path(str(source)).is_file() else split_extension(source)
    name = str(source)
    if not Path(str(path)).is_file():
        msg = f"{name}: no such {what} file; check the path"
        raise GalgenFileError(msg)
    try:
        hdul = fits.open(path, memmap=memmap, mode="readonly")
    except Exception as exc:  # noqa: BLE001 - astropy raises OSError, ValueError, ...
        msg = f"{name}: not a readable FITS file ({exc}); the {what} must be FITS"
        raise GalgenFileError(msg) from None
    try:
        if ext is not None:
            chosen = hdul[hdu_key(ext)]
        else:
            chosen = next(h for h in hdul if h.is_image and h.header.get("NAXIS", 0) >= 2)
        data = chosen.data
    except (KeyError, IndexError, StopIteration):
        hdul.close()
        msg = f"{name}: no image HDU {'' if ext is None else repr(ext)} to read the {what} from"
        raise GalgenValueError(msg) from None
    if data is None or data.shape != tuple(shape):
        hdul.close()
        msg = (f"{name}: the {what} is {None if data is None else data.shape}, the image {tuple(shape)}; "
               "give the plane of the same pixels (the same file's cutout)")
        raise GalgenValueError(msg)
    return data, chosen.header, hdul


def check_noise_map_type(kind: str | None) -> None:
    """Raise :class:`~galgen.errors.GalgenValueError` unless ``kind`` is ``None`` or one of
    :data:`NOISE_MAP_TYPES`."""
    if kind not in (None, *NOISE_MAP_TYPES):
        msg = f"noise_map_type={kind!r}: give one of {', '.join(NOISE_MAP_TYPES)}"
        raise GalgenValueError(msg)


def open_noise_map(source: str | os.PathLike, shape: tuple[int, int], kind: str | None = None,
                   *, memmap: bool = False) -> tuple[np.ndarray, str, fits.HDUList]:
    """A noise map's plane (:func:`open_plane`), what it holds (``kind``, else as its name says:
    :func:`guess_noise_map_type`) and the open file (close it when done).

    Raises
    ------
    GalgenValueError
        Its kind neither given nor said by its name (besides :func:`open_plane`'s errors).
    """
    data, header, hdul = open_plane(source, shape, "noise map", memmap=memmap)
    try:
        data = linear_plane(data, header, str(source))  # a PS1 variance image is asinh-compressed too
    except GalgenValueError:
        hdul.close()
        raise
    kind = kind or guess_noise_map_type(source, header)
    if kind not in NOISE_MAP_TYPES:
        hdul.close()
        msg = (f"{source}: say what the noise map holds (CLI: --noise-map-type ivar, var or std); "
               "neither its EXTNAME nor its file name does")
        raise GalgenValueError(msg)
    return data, kind, hdul


def open_mask(source: str | os.PathLike, shape: tuple[int, int], telescope: str | None = None,
              *, memmap: bool = False, ignore: int = 0) -> tuple[np.ndarray, int, fits.HDUList]:
    """A mask's plane (:func:`open_plane`), the bits that mark bad pixels in it
    (:func:`galgen.io.masks.bad_mask_bits`, less ``ignore``) and the open file (close it when done)."""
    data, header, hdul = open_plane(source, shape, "mask", memmap=memmap)
    return data, bad_mask_bits(header, telescope, ignore), hdul


def attach_planes(image: Image, noise_map: str | os.PathLike | None = None,
                  noise_map_type: str | None = None, mask: str | os.PathLike | None = None,
                  mask_ignore: int | str | None = None) -> Image:
    """``image`` with a noise map and a mask read from files of their own.

    Parameters
    ----------
    image : Image
        As :func:`galgen.io.read_image` returns it.
    noise_map : path, optional
        A plane of the image's shape (``FILE`` or ``FILE[EXT]``) holding its per-pixel noise, read
        as a plane of the image's own file is (and replacing one, logged).
    noise_map_type : {"ivar", "var", "std"}, optional
        What it holds; by default as its ``EXTNAME`` or file name says (:func:`guess_noise_map_type`).
    mask : path, optional
        A plane of the image's shape: nonzero is bad, or for an LSST/HSC-style mask whose
        header names its bit planes, only the bad planes (:func:`galgen.io.masks.bad_mask_bits`).
        Added to the image's own mask.
    mask_ignore : int or str, optional
        Bits of ``mask`` that mark usable pixels (:func:`galgen.io.masks.mask_bits`), as
        :func:`galgen.io.read_image` takes them for a file's own mask.

    Raises
    ------
    GalgenFileError, GalgenValueError
        A missing or unreadable file, a plane of another shape, or a noise map whose kind is
        neither given nor said by its name.
    """
    if noise_map is None and mask is None:
        return image
    uncertainty, bad = image.uncertainty, image.mask.copy()
    if noise_map is not None:
        data, kind, hdul = open_noise_map(noise_map, image.shape, noise_map_type)
        with hdul:
            std = as_std(data, kind)
        if uncertainty is not None:
            log.info("%s: the noise map %s replaces the uncertainty plane of the image's own file",
                     image.source, noise_map)
        uncertainty = std  # as a plane of the image's own file is read (no data: an inverse variance of 0)
    if mask is not None:
        data, bits, hdul = open_mask(mask, image.shape, image.header.get("TELESCOP"),
                                     ignore=mask_bits(mask_ignore))
        with hdul:
            bad |= bad_pixels(np.asarray(data), bits)
    return replace(image, mask=bad, uncertainty=uncertainty)


def with_own_planes(image: Image, source: object, noise_map: object = None, noise_map_type: str | None = None,
                    mask: object = None, hdu: int | str | None = None,
                    mask_ignore: int | str | None = None) -> Image:
    """:func:`attach_planes` for an image read from ``source``: ``noise_map`` and ``mask`` may be
    templates (:func:`galgen.psf.templates.own_hdu`: ``'{stem}_invvar.fits'``), filled for
    ``source`` when it is a path and for the header of its HDU ``hdu``."""
    from galgen.psf.templates import own_hdu

    check_noise_map_type(noise_map_type)
    if noise_map is None and mask is None:
        return image
    if isinstance(source, str | os.PathLike):
        noise_map, mask = (own_hdu(v, source, image.header, hdu) for v in (noise_map, mask))
    return attach_planes(image, noise_map, noise_map_type, mask, mask_ignore)
