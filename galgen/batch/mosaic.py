"""Large images opened once for catalog cutouts: memory-mapped, WCS parsed once, stamps cut by slicing.

A survey mosaic (10k x 10k pixels and more) is not read into memory: :func:`open_mosaic` maps
its pixels and companion planes (mask, uncertainty, drizzle coverage; or planes in files of their
own) and parses its header and WCS once; :func:`cut_stamp` slices a stamp out with the mosaic's
WCS shifted to it, as :class:`galgen.io.Image`.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from astropy.io import fits

from galgen.errors import GalgenValueError
from galgen.io.fits import Image
from galgen.io.hdus import as_std
from galgen.io.masks import bad_pixels, uncovered_pixels
from galgen.io.wcs import has_physical, move_physical

if TYPE_CHECKING:
    from galgen.batch.options import BatchOptions

__all__ = ["Mosaic", "open_mosaic", "plane_files", "stamp_origin", "cut_stamp"]


@dataclass
class Mosaic:
    """A large image opened once, memory-mapped, with its WCS parsed once.

    Attributes
    ----------
    path : str
    data : numpy.ndarray
        ``(H, W)`` pixels, a memory map of the file where FITS allows it (not for scaled
        integer data: ``BZERO``/``BSCALE`` make astropy read them into memory).
    mask, uncertainty : numpy.ndarray or None
        ``MASK`` / uncertainty (``ERR``, ``VARIANCE``, ``IVAR``-like) companion HDUs of the same
        shape, memory-mapped; the bits of ``mask`` that mark bad pixels are ``mask_bits``
        (:func:`galgen.io.masks.bad_pixels`), ``uncertainty_kind`` says what ``uncertainty`` holds
        (:func:`galgen.io.hdus.uncertainty_plane`; cut stamps get a standard deviation).
    coverage : numpy.ndarray or None
        Drizzle's ``WHT`` companion HDU, memory-mapped: where it is not > 0 no exposure covers the
        pixel, which stamps mask (:func:`galgen.io.masks.uncovered_pixels`).
    header : astropy.io.fits.Header
        The image's header without WCS or structural keywords: each stamp's input header.
    wcs : astropy.wcs.WCS
    pixel_scale : float
        arcsec per pixel.
    unit : astropy.units.UnitBase or None
    """

    path: str
    data: np.ndarray
    wcs: object
    pixel_scale: float
    header: fits.Header
    unit: object = None
    mask: np.ndarray | None = None
    uncertainty: np.ndarray | None = None
    mask_bits: int = -1
    uncertainty_kind: str = "std"
    coverage: np.ndarray | None = None
    _hdul: fits.HDUList | None = field(default=None, repr=False)
    _others: list = field(default_factory=list, repr=False)  # noise-map and mask files of their own

    def close(self) -> None:
        """Close the files (the arrays become invalid)."""
        for hdul in [self._hdul, *self._others]:
            if hdul is not None:
                hdul.close()
        self._hdul, self._others = None, []


def open_mosaic(path: str | os.PathLike, hdu: int | str | None = None,
                pixel_scale: float | None = None, *, noise_map: str | None = None,
                noise_map_type: str | None = None, mask: str | None = None,
                mask_ignore: int | str | None = None) -> Mosaic:
    """Open a large image for catalog cutouts (see :class:`Mosaic`); close it with ``.close()``.
    ``noise_map`` (of kind ``noise_map_type``) and ``mask`` are planes in files of their own
    (:mod:`galgen.io.planes`), memory-mapped too; they replace the image file's own planes. The
    mask's bits ``mask_ignore`` mark usable pixels (:func:`galgen.io.masks.mask_bits`)."""
    from galgen.errors import GalgenFileError
    from galgen.io.fits import _parse_unit
    from galgen.io.hdus import COVERAGE_NAMES, MASK_NAMES, companion_hdu, pick_image_hdu, uncertainty_plane
    from galgen.io.masks import bad_mask_bits, mask_bits
    from galgen.io.scaled import linear_header, linear_plane
    from galgen.io.wcs import celestial_wcs, pixel_scale_from_wcs, strip_wcs_keywords

    name = str(path)
    if not Path(path).is_file():
        raise GalgenFileError(f"{name}: no such file; check the path")
    try:
        hdul = fits.open(path, memmap=True, mode="readonly")
        index, chosen = pick_image_hdu(hdul, hdu, name)
        data = chosen.data
    except GalgenValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - astropy raises OSError, ValueError, TypeError, ...
        msg = f"{name}: not a readable FITS image ({exc}); check that it is FITS and complete"
        raise GalgenFileError(msg) from exc
    if data is None or data.ndim != 2:
        hdul.close()
        shape = None if data is None else data.shape
        msg = f"{name}: HDU {index} holds {shape}, not a 2-D image; catalog cutouts need one (hdu=)"
        raise GalgenValueError(msg)
    header = chosen.header
    wcs = celestial_wcs(header)
    if wcs is None:
        hdul.close()
        msg = f"{name}: cutouts at catalog sky positions need a celestial WCS in HDU {index}"
        raise GalgenValueError(msg)
    scale = pixel_scale_from_wcs(wcs)
    if pixel_scale is not None and abs(pixel_scale / scale - 1) > 0.01:
        hdul.close()
        msg = f"{name}: pixel_scale={pixel_scale:.4g} arcsec disagrees with the WCS ({scale:.4g}); drop it"
        raise GalgenValueError(msg)
    try:  # PS1's asinh-compressed pixels: each stamp made linear as it is cut
        data = linear_plane(data, header, name)
    except GalgenValueError:
        hdul.close()
        raise
    extver = header.get("EXTVER")  # a multi-chip file's planes of this chip
    mask_hdu = companion_hdu(hdul, MASK_NAMES, data.shape, extver)
    coverage = companion_hdu(hdul, COVERAGE_NAMES, data.shape, extver)
    plane, kind = uncertainty_plane(hdul, data.shape, extver)
    telescope = hdul[0].header.get("TELESCOP", header.get("TELESCOP"))
    try:
        ignore = mask_bits(mask_ignore)
        own = _own_planes(data.shape, noise_map, noise_map_type, mask, telescope, ignore)
    except Exception:
        hdul.close()
        raise
    if "uncertainty" in own:
        plane, kind = own["uncertainty"], own["uncertainty_kind"]
    mask_data = None if mask_hdu is None else mask_hdu.data
    bits = -1 if mask_hdu is None else bad_mask_bits(mask_hdu.header, telescope, ignore)
    if "mask" in own:
        mask_data, bits = own["mask"], own["mask_bits"]
    structural = ("SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND", "XTENSION", "PCOUNT",
                  "GCOUNT", "BSCALE", "BZERO", "BLANK", "EXTNAME", "CHECKSUM", "DATASUM")
    return Mosaic(path=str(Path(path).resolve()), data=data, wcs=wcs, pixel_scale=scale,
                  header=linear_header(strip_wcs_keywords(header, also=structural)), unit=_parse_unit(header),
                  mask=mask_data, mask_bits=bits, uncertainty=plane, uncertainty_kind=kind or "std",
                  coverage=None if coverage is None else coverage.data, _hdul=hdul,
                  _others=own.get("files", []))


def _own_planes(shape: tuple[int, int], noise_map: str | None, noise_map_type: str | None,
                mask: str | None, telescope: str | None, ignore: int = 0) -> dict:
    """The memory-mapped planes of a mosaic's noise-map and mask files, and the files to close."""
    from galgen.io.planes import open_mask, open_noise_map

    out: dict = {"files": []}
    try:
        if noise_map is not None:
            data, kind, hdul = open_noise_map(noise_map, shape, noise_map_type, memmap=True)
            out["files"].append(hdul)
            out.update(uncertainty=data, uncertainty_kind=kind)
        if mask is not None:
            data, bits, hdul = open_mask(mask, shape, telescope, memmap=True, ignore=ignore)
            out["files"].append(hdul)
            out.update(mask=data, mask_bits=bits)
    except Exception:
        for hdul in out["files"]:
            hdul.close()
        raise
    return out


def plane_files(options: BatchOptions, path: str, hdu: int | str | None = None,
                header: fits.Header | None = None) -> dict:
    """``noise_map``, ``noise_map_type``, ``mask`` and ``mask_ignore`` of a run for the image at
    ``path`` (its own HDU, or a template filled for it: :func:`galgen.psf.templates.own_hdu`), as
    :func:`open_mosaic` and :func:`galgen.io.planes.attach_planes` take them."""
    from galgen.psf.templates import own_hdu

    return {"noise_map": own_hdu(options.noise_map, path, header, hdu),
            "noise_map_type": options.noise_map_type, "mask": own_hdu(options.mask, path, header, hdu),
            "mask_ignore": options.mask_ignore}


def stamp_origin(x: np.ndarray | float, y: np.ndarray | float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """0-based pixel ``(x0, y0)`` of the first pixel of ``size``-pixel stamps centred on ``(x, y)``.

    The stamp's centre, ``x0 + (size - 1) / 2``, lies within half a pixel of ``x`` on each axis
    (for even and odd ``size``)."""
    half = (size - 1) / 2.0
    return (np.floor(np.asarray(x) - half + 0.5).astype(np.int64),
            np.floor(np.asarray(y) - half + 0.5).astype(np.int64))


def cut_stamp(mosaic: Mosaic, x: float, y: float, size: int, *, min_coverage: float = 0.5) -> Image:
    """The ``size`` x ``size`` stamp centred (within half a pixel) on 0-based ``(x, y)``.

    Pixels off the image are NaN and masked (as :func:`galgen.preprocess.make_cutout` does);
    less than ``min_coverage`` of the stamp on the image is an error. The stamp's WCS is the
    image's with ``CRPIX`` shifted (SIP terms are relative to ``CRPIX`` and carry over)."""
    (x0,), (y0,) = stamp_origin([x], [y], size)
    h, w = mosaic.data.shape
    ya, yb, xa, xb = max(y0, 0), min(y0 + size, h), max(x0, 0), min(x0 + size, w)
    where = f"x={x:.1f} y={y:.1f}"
    if yb <= ya or xb <= xa or (yb - ya) * (xb - xa) < min_coverage * size * size:
        msg = (f"{mosaic.path}: the stamp at {where} has less than {min_coverage:.0%} of its pixels on "
               f"the {w}x{h} image; it is too close to the edge")
        raise GalgenValueError(msg)
    inner = (slice(ya - y0, yb - y0), slice(xa - x0, xb - x0))
    outer = (slice(ya, yb), slice(xa, xb))
    data = np.full((size, size), np.nan)
    data[inner] = mosaic.data[outer]
    mask = np.ones((size, size), bool)
    mask[inner] = False if mosaic.mask is None else bad_pixels(mosaic.mask[outer], mosaic.mask_bits)
    if mosaic.coverage is not None:  # no exposure there (drizzle's WHT of 0): a fill value, not data
        mask[inner] |= uncovered_pixels(mosaic.coverage[outer])
    std = None
    if mosaic.uncertainty is not None:
        std = np.full((size, size), np.nan)
        std[inner] = as_std(mosaic.uncertainty[outer], mosaic.uncertainty_kind)
    wcs = copy.deepcopy(mosaic.wcs)
    wcs.wcs.crpix = np.asarray(mosaic.wcs.wcs.crpix) - [x0, y0]
    wcs.pixel_shape = (size, size)
    header = mosaic.header  # shared by the stamps (a copy costs a millisecond) unless it must change:
    if has_physical(header):  # the mosaic is itself a cutout (IRAF LTV)
        header = move_physical(header.copy(), (x0, y0))
    return Image(data=data, pixel_scale=mosaic.pixel_scale, wcs=wcs, unit=mosaic.unit, mask=mask,
                 uncertainty=std, header=header, source=f"{mosaic.path}[{where}]")
