"""What a batch run works on: FITS files from paths, globs, directories or list files,
or cutouts of large images at the positions of a catalog."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table

from galgen.errors import GalgenFileError, GalgenValueError
from galgen.psf.stars import StarCheck

__all__ = ["BatchItem", "expand_inputs", "catalog_items", "read_catalog"]


@dataclass(frozen=True)
class BatchItem:
    """One unit of work.

    Attributes
    ----------
    key : str
        Unique name; the output is ``<outdir>/<key>.fits``.
    path : str
        Input FITS file.
    hdu : int or str or None
        HDU to read.
    position : (ra_deg, dec_deg) or None
        Cutout centre for catalog items (``None``: the whole file).
    size : int
        Cutout side in pixels (catalog items).
    star_check : StarCheck or None
        Catalog items: the run's PSF checked against the stars of ``path``
        (:func:`galgen.batch.psfcheck.check_image_psf`); ``None`` when unchecked.
    """

    key: str
    path: str
    hdu: int | str | None = None
    position: tuple[float, float] | None = None
    size: int = 64
    star_check: StarCheck | None = None


def expand_inputs(inputs: list[str | os.PathLike], hdu: int | str | None = None) -> list[BatchItem]:
    """FITS files named by paths, glob patterns, directories (``*.fits*`` inside, recursively) or
    ``@list.txt`` files (one path per line). Output keys mirror the names relative to the
    common directory; duplicates are refused."""
    paths: list[Path] = []
    for entry in inputs:
        text = str(entry)
        if text.startswith("@"):
            listing = Path(text[1:])
            if not listing.is_file():
                msg = f"{listing}: list file not found"
                raise GalgenFileError(msg)
            paths += [Path(line.strip()) for line in listing.read_text().splitlines()
                      if line.strip() and not line.startswith("#")]
        elif Path(text).is_dir():
            paths += sorted(p for p in Path(text).rglob("*.fits*") if p.is_file())
        elif any(c in text for c in "*?["):
            paths += [Path(p) for p in sorted(glob.glob(text, recursive=True))]
        else:
            paths.append(Path(text))
    if not paths:
        msg = f"no input files found in {[str(i) for i in inputs]}"
        raise GalgenValueError(msg)
    resolved = [p.resolve() for p in paths]
    root = Path(os.path.commonpath([str(p.parent) for p in resolved]))
    items, seen = [], set()
    for p in resolved:
        rel = p.relative_to(root)
        key = str(rel).removesuffix(".gz").removesuffix(".fz").removesuffix(".fits")
        if key in seen:
            msg = f"{p}: listed twice"
            raise GalgenValueError(msg)
        seen.add(key)
        items.append(BatchItem(key=key, path=str(p), hdu=hdu))
    return items


def read_catalog(catalog: str | os.PathLike | Table) -> tuple[Table, dict[str, str]]:
    """A catalog table and its column names by lower-case name (``ra``, ``dec``, ``id``), its
    ``ra``/``dec`` columns as plain floats in degrees (converted from their unit when they have one).

    Raises
    ------
    GalgenFileError
        No such file, or not a table astropy can read (ECSV, FITS table, VOTable, ...).
    GalgenValueError
        No ``ra``/``dec`` columns, or columns that are not angles.
    """
    if isinstance(catalog, Table):
        table = catalog
    else:
        if not Path(catalog).is_file():
            msg = f"{catalog}: no such catalog file; check the path"
            raise GalgenFileError(msg)
        try:
            table = Table.read(catalog)
        except Exception as exc:  # noqa: BLE001 - astropy raises ValueError, OSError, IORegistryError...
            msg = (f"{catalog}: not a table astropy can read ({exc}); give an ECSV, FITS table or VOTable "
                   "with ra and dec columns in degrees")
            raise GalgenFileError(msg) from None
    cols = {c.lower(): c for c in table.colnames}
    if "ra" not in cols or "dec" not in cols:
        msg = f"{catalog}: needs 'ra' and 'dec' columns (degrees); it has {table.colnames}"
        raise GalgenValueError(msg)
    table = table.copy(copy_data=False)
    for key in ("ra", "dec"):
        column = table[cols[key]]
        try:  # a column with a unit (hourangle, rad) is converted; one without is read as degrees
            values = u.Quantity(column, u.deg if column.unit is None else column.unit).to_value(u.deg)
        except (u.UnitsError, TypeError, ValueError):
            msg = (f"{catalog}: column {cols[key]!r} is not an angle (unit {column.unit}); give "
                   "degrees, or a unit astropy converts to degrees")
            raise GalgenValueError(msg) from None
        # plain degrees from here on; a masked position is NaN: that row alone fails, reported
        table[cols[key]] = np.where(np.ma.getmaskarray(column), np.nan, np.asarray(values, float))
    return table, cols


def catalog_items(catalog: str | os.PathLike, images: list[str | os.PathLike], size: int = 64,
                  hdu: int | str | None = None) -> list[BatchItem]:
    """Cutouts of ``size`` pixels around each catalog position (``ra``/``dec`` columns in degrees,
    optional ``id``), cut from the image whose footprint contains it (the first one)."""
    from galgen.batch.catalog import open_mosaic

    table, cols = read_catalog(catalog)
    footprints = []
    for image in images:  # memory-mapped: only the header is read
        mosaic = open_mosaic(image, hdu)
        footprints.append((mosaic.path, mosaic.wcs, mosaic.data.shape))
        mosaic.close()
    items = []
    for i, row in enumerate(table):
        ra, dec = float(row[cols["ra"]]), float(row[cols["dec"]])
        ident = str(row[cols["id"]]) if "id" in cols else f"{i:06d}"
        sky = SkyCoord(ra * u.deg, dec * u.deg)
        path = footprints[0][0]
        for p, wcs, shape in footprints:
            x, y = wcs.world_to_pixel(sky)
            if -0.5 <= x < shape[1] - 0.5 and -0.5 <= y < shape[0] - 0.5:
                path = p
                break
        items.append(BatchItem(key=f"cutout_{ident}", path=path, hdu=hdu, position=(ra, dec),
                               size=size))
    return items
