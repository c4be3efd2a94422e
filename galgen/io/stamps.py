"""Stacked stamp files: many restored stamps in one FITS file, one table row each.

A catalog run (``galgen batch MOSAIC --catalog CAT``) writes its outputs a chunk of stamps at a
time, one file per chunk, instead of one file per galaxy (a survey's million files cost more in
file-system and FITS overhead than the model costs to run). The layout:

* primary HDU: no data; what the file is (``GALGENOP = 'restore-stack'``, ``NSTAMPS``).
* ``RESTORED``: ``(N, H', W')`` float32 cube, plane ``i`` is stamp ``i``; ``BUNIT``, ``PSFFWHM``
  and the provenance shared by all stamps (method, model and its sha256, galgen version,
  parameters). It carries **no** celestial WCS: each plane has its own (a viewer would apply a
  cube's WCS to every plane).
* ``UNCERT`` (when ``--samples`` > 1), same shape and unit; ``MASK`` (uint8, 1 = a filled input
  pixel) when any stamp has one.
* ``STAMPS``: binary table, row ``i`` describes plane ``i``: ``key``, ``id``, ``ra``/``dec``
  (deg, the catalog position), ``x``/``y`` (0-based pixel of that position in the input
  image), ``status`` (``ok``/``failed``) and ``error``, the per-stamp header values
  (``GALGENX2``, ``GALGENRZ``, ``GALGENRF``, ``GALGENFL``, ``GALGENPF``, ``GALGENPH``, ``GALGENBG``,
  ``GALGENNS``, ``GALGENNV``, ``GALGENNF``, ``GALGENSN``, ``GALGENSZ``, ``GALGENSO``, ``GALGENLA``),
  ``warning``
  (outside the model's training regime, and why), ``snr_clamp`` (when written by a catalog run:
  the stamp was restored as at the top of the training SNR, ``HISTORY``'s ``snr_clamp``),
  ``residual_light`` (likewise: the light put back from the residual, ``HISTORY``'s) and the
  stamp's WCS keywords (``CTYPE1/2``, ``CUNIT1/2``, ``CRVAL1/2``, ``CRPIX1/2``, ``CD1_1`` ...
  ``CD2_2``). WCS keywords the stamps share (``RADESYS``, SIP coefficients, ...) are in the
  table's header. A failed stamp's plane is NaN.

:func:`read_stamps` gives the stamps back as ``CCDData`` with their own WCS and header.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.nddata import CCDData, StdDevUncertainty
from astropy.table import Table
from astropy.wcs import WCS

from galgen.errors import GalgenFileError
from galgen.io.fits import _unit_string, _write_atomically
from galgen.io.units import parse_bunit
from galgen.io.wcs import _WCS_KEY, PHYSICAL_KEYWORDS

__all__ = ["write_stamps", "read_stamps", "STAMP_KEYWORDS", "WCS_COLUMNS"]

#: Header keywords that differ from stamp to stamp: columns of ``STAMPS``, not keywords of ``RESTORED``.
STAMP_KEYWORDS = ("GALGENX2", "GALGENRZ", "GALGENRF", "GALGENFL", "GALGENPF", "GALGENPH", "GALGENBG",
                  "GALGENNS", "GALGENNV", "GALGENNF", "GALGENSN", "GALGENSZ", "GALGENSO", "GALGENLA")
#: Each stamp's own WCS, as ``STAMPS`` columns.
WCS_COLUMNS = ("CTYPE1", "CTYPE2", "CUNIT1", "CUNIT2", "CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2",
               "CD1_1", "CD1_2", "CD2_1", "CD2_2")
# provenance (HISTORY) parameters that differ from stamp to stamp: their values are table columns
_PER_STAMP_HISTORY = ("psf_fwhm_arcsec", "psf_sha256", "noise_rms", "background_subtracted", "input",
                      "flux_scale", "snr_estimate", "regime_warning", "snr_clamp", "residual_light")
_FLOAT_KEYS = {"GALGENX2", "GALGENRZ", "GALGENRF", "GALGENPF", "GALGENBG", "GALGENNS", "GALGENNV", "GALGENNF",
               "GALGENSN", "GALGENSZ", "GALGENSO", "GALGENLA"}


def _wcs_cards(wcs: WCS) -> tuple[dict, fits.Header]:
    """``(per-stamp columns, shared keywords)`` of one stamp's celestial WCS."""
    header = wcs.to_header(relax=True)
    cd = wcs.pixel_scale_matrix  # CD, or CDELT x PC: the same linear map
    row = {"CTYPE1": wcs.wcs.ctype[0], "CTYPE2": wcs.wcs.ctype[1], "CUNIT1": str(wcs.wcs.cunit[0]),
           "CUNIT2": str(wcs.wcs.cunit[1]), "CRVAL1": wcs.wcs.crval[0], "CRVAL2": wcs.wcs.crval[1],
           "CRPIX1": wcs.wcs.crpix[0], "CRPIX2": wcs.wcs.crpix[1], "CD1_1": cd[0, 0], "CD1_2": cd[0, 1],
           "CD2_1": cd[1, 0], "CD2_2": cd[1, 1]}
    linear = ("PC", "CDELT")  # replaced by the CD columns
    shared = fits.Header([card for card in header.cards
                          if card.keyword not in WCS_COLUMNS and not card.keyword.startswith(linear)])
    return row, shared


def _shared_header(header: fits.Header) -> fits.Header:
    """A stamp's output header without its WCS and per-stamp values: what all planes share."""
    keep = fits.Header()
    dropping = False  # a long HISTORY entry is continued on cards that do not start with "galgen"
    for card in header.cards:
        if (card.keyword in STAMP_KEYWORDS or _WCS_KEY.match(card.keyword) or card.keyword == "PIXSCALE"
                or card.keyword in PHYSICAL_KEYWORDS):  # each stamp's own place: the x, y columns
            continue
        if card.keyword == "HISTORY":
            text = str(card.value)
            if text.startswith("galgen"):
                dropping = any(f": {k} = " in text for k in _PER_STAMP_HISTORY)
            if dropping:
                continue
        else:
            dropping = False
        keep.append(card)
    keep.add_history("galgen: per-stamp values (input, PSF FWHM and hash, noise, background, SNR, chi2, "
                     "flags, WCS) are columns of the STAMPS table")
    return keep


def write_stamps(path: str | os.PathLike, results: Sequence[CCDData | None], rows: Sequence[dict], *,
                 shape: tuple[int, int] | None = None) -> Path:
    """Write restored stamps as one stacked file (layout in this module's docstring), atomically.

    Parameters
    ----------
    path : path
        Output file (replaced if it exists: the caller decides that it may be).
    results : sequence of CCDData or None
        ``N`` restorations of one shape ``(H', W')`` (from :func:`galgen.restore` or the batch
        engine); ``None`` for a stamp that failed (its plane is NaN).
    rows : sequence of dict
        ``N`` table rows: at least ``key``, ``status`` and ``error``; usually ``id``, ``ra``,
        ``dec``, ``x``, ``y``. The per-stamp header values and WCS columns are added here.
    shape : (int, int), optional
        ``(H', W')``, needed when every stamp failed.

    Returns
    -------
    pathlib.Path
    """
    if len(results) != len(rows):
        msg = f"write_stamps: {len(results)} results for {len(rows)} table rows"
        raise ValueError(msg)
    good = [r for r in results if r is not None]
    if shape is None:
        if not good:
            msg = "write_stamps: every stamp failed; give shape= for the (empty) stack"
            raise ValueError(msg)
        shape = good[0].shape
    n = len(results)
    cube = np.full((n, *shape), np.nan, np.float32)
    std = np.full((n, *shape), np.nan, np.float32) if any(r.uncertainty is not None for r in good) else None
    mask = np.zeros((n, *shape), np.uint8) if any(r.mask is not None and r.mask.any() for r in good) else None
    table_rows, shared_wcs, first = [], fits.Header(), None
    for i, (res, row) in enumerate(zip(results, rows, strict=True)):
        full = {k: row.get(k) for k in row}
        for key in STAMP_KEYWORDS:
            full.setdefault(key, np.nan if key in _FLOAT_KEYS else "")
        for key in WCS_COLUMNS:
            full.setdefault(key, np.nan if key.startswith(("CR", "CD")) else "")
        if res is not None:
            if res.shape != tuple(shape):
                msg = f"write_stamps: stamp {i} is {res.shape}, the stack is {tuple(shape)}"
                raise ValueError(msg)
            cube[i] = res.data
            if std is not None and res.uncertainty is not None:
                std[i] = res.uncertainty.array
            if mask is not None and res.mask is not None:
                mask[i] = res.mask
            header = fits.Header(res.meta)
            for key in STAMP_KEYWORDS:
                if key in header:
                    full[key] = header[key]
            if res.wcs is not None:
                wcs_row, shared_wcs = _wcs_cards(res.wcs)
                full.update(wcs_row)
            if first is None:
                first = res
        table_rows.append(full)
    table = Table(rows=table_rows)
    for name in ("ra", "dec"):
        if name in table.colnames:
            table[name].unit = u.deg
    for name in ("x", "y"):
        if name in table.colnames:
            table[name].unit = u.pix
    main = _shared_header(fits.Header(first.meta)) if first is not None else fits.Header()
    structural = {"SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3", "EXTEND", "EXTNAME"}
    main = fits.Header([c for c in main.cards if c.keyword not in structural])
    unit = first.unit if first is not None else None
    if unit is not None and unit != u.dimensionless_unscaled:
        main["BUNIT"] = _unit_string(unit)  # nanomaggy, electron/s: not FITS-standard, still written
    primary = fits.PrimaryHDU()
    primary.header["GALGENOP"] = ("restore-stack", "galgen: a stack of restored stamps")
    primary.header["NSTAMPS"] = (n, "stamps in this file (planes of RESTORED, rows of STAMPS)")
    primary.header["NGOOD"] = (len(good), "stamps restored (status ok)")
    hdus = [primary, fits.ImageHDU(cube, header=main, name="RESTORED")]
    if std is not None:
        ext = fits.Header()
        if "BUNIT" in main:
            ext["BUNIT"] = main["BUNIT"]
        hdus.append(fits.ImageHDU(std, header=ext, name="UNCERT"))
    if mask is not None:
        hdus.append(fits.ImageHDU(mask, name="MASK"))
    stamps = fits.BinTableHDU(table, name="STAMPS")
    stamps.header.extend(shared_wcs.cards, update=True)
    hdus.append(stamps)
    path = Path(path)
    _write_atomically(fits.HDUList(hdus), path)
    return path


def read_stamps(path: str | os.PathLike, index: int | None = None) -> list[CCDData | None] | CCDData | None:
    """Stamps of a stacked file (:func:`write_stamps`) as ``CCDData``, each with its own WCS.

    Parameters
    ----------
    path : path
        A stacked file (``galgen batch --catalog`` output; see the manifest's ``output`` and
        ``index`` columns).
    index : int, optional
        One stamp (a row of the manifest's ``index``); default all.

    Returns
    -------
    list of CCDData or None, or one
        ``None`` for a stamp that failed (its reason: the ``error`` column of ``STAMPS`` or of the
        manifest). Each ``CCDData`` has the unit, WCS, ``UNCERT``/``MASK`` planes and a header
        made of the shared keywords, the stamp's own values (``GALGENX2``, ...) and its table row
        (``meta['STAMPKEY']``, ``meta['STAMPID']``).
    """
    path = Path(path)
    try:
        with fits.open(path, memmap=False) as hdul:
            if "STAMPS" not in hdul or "RESTORED" not in hdul:
                msg = f"{path}: not a galgen stack of stamps (it needs RESTORED and STAMPS HDUs)"
                raise GalgenFileError(msg)
            cube = np.asarray(hdul["RESTORED"].data, dtype=np.float64)
            main = hdul["RESTORED"].header.copy()
            std = np.asarray(hdul["UNCERT"].data, np.float64) if "UNCERT" in hdul else None
            mask = np.asarray(hdul["MASK"].data) != 0 if "MASK" in hdul else None
            table = Table(hdul["STAMPS"].data)
            wcs_shared = fits.Header([c for c in hdul["STAMPS"].header.cards if _WCS_KEY.match(c.keyword)])
    except GalgenFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - astropy raises OSError, ValueError, ...
        msg = f"{path}: not a readable FITS file ({exc}); check that it is complete"
        raise GalgenFileError(msg) from exc
    unit = parse_bunit(main["BUNIT"]) if "BUNIT" in main else u.dimensionless_unscaled
    for key in ("XTENSION", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3", "PCOUNT", "GCOUNT", "EXTNAME"):
        main.remove(key, ignore_missing=True)
    rows = range(len(table)) if index is None else [int(index)]
    if index is not None and not 0 <= int(index) < len(table):
        msg = f"{path}: index {index} is outside its {len(table)} stamps"
        raise GalgenFileError(msg)
    out: list[CCDData | None] = []
    for i in rows:
        row = table[i]
        if str(row["status"]).strip() != "ok":
            out.append(None)
            continue
        header = main.copy()
        for key in STAMP_KEYWORDS:
            if key not in table.colnames:  # a stack written before the keyword existed
                continue
            value = row[key]
            if key in _FLOAT_KEYS and not np.isfinite(value):
                continue
            header[key] = value.item() if hasattr(value, "item") else str(value).strip()
        header["STAMPKEY"] = str(row["key"]).strip()
        if "id" in table.colnames:
            header["STAMPID"] = str(row["id"]).strip()
        wcs = None
        if str(row["CTYPE1"]).strip():
            wcs_header = wcs_shared.copy()
            for key in WCS_COLUMNS:
                value = row[key]
                wcs_header[key] = value.item() if hasattr(value, "item") else str(value).strip()
            wcs = WCS(wcs_header)
        out.append(CCDData(cube[i], unit=unit, wcs=wcs, meta=header,
                           mask=None if mask is None else mask[i],
                           uncertainty=None if std is None else StdDevUncertainty(std[i])))
    return out if index is None else out[0]
