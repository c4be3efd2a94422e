"""What a batch run works on: FITS files from paths, globs, directories or list files,
or cutouts of large images at the positions of a catalog."""

from __future__ import annotations

import glob
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import Table

from galgen.errors import GalgenFileError, GalgenValueError
from galgen.io.fits import FITS_SUFFIXES, fits_stem
from galgen.psf.stars import StarCheck

__all__ = ["BatchItem", "expand_inputs", "catalog_items", "catalog_keys", "catalog_fwhm", "catalog_sizes",
           "read_catalog", "STAMP_SIDES"]

log = logging.getLogger(__name__)


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
    psf_fwhm : float or None
        Catalog items: the galaxy's own PSF FWHM (arcsec) from the catalog
        (:func:`catalog_fwhm`); ``None`` or NaN: the run's.
    """

    key: str
    path: str
    hdu: int | str | None = None
    position: tuple[float, float] | None = None
    size: int = 64
    star_check: StarCheck | None = None
    psf_fwhm: float | None = None


def expand_inputs(inputs: list[str | os.PathLike], hdu: int | str | None = None) -> list[BatchItem]:
    """FITS files named by paths, glob patterns, directories (``*.fits*`` inside, recursively) or
    ``@list.txt`` files (one path per line). A path, or a glob of FITS files, may name one HDU
    as ``FILE[EXT]`` (``flt.fits[SCI,2]``: chip 2 of an HST file; ``exposures/*.fits[SCI,1]``),
    which overrides ``hdu`` for it and adds ``_EXT`` to its key. Output keys mirror the names
    relative to the common directory; duplicates are refused."""
    from galgen.io.hdus import split_extension

    entries: list[tuple[Path, int | str | None, bool]] = []  # (path, hdu, the HDU named in the path)
    for entry in inputs:
        text = str(entry)
        lines = [text]
        if text.startswith("@"):
            listing = Path(text[1:])
            if not listing.is_file():
                msg = f"{listing}: list file not found"
                raise GalgenFileError(msg)
            lines = [line.strip() for line in listing.read_text().splitlines()
                     if line.strip() and not line.startswith("#")]
        for line in lines:
            base, ext = split_extension(line)
            if not Path(line).exists() and ext is not None and Path(base).is_file():  # FILE[EXT]
                entries.append((Path(base), ext, True))
            elif (not Path(line).exists() and ext is not None and any(c in str(base) for c in "*?[")
                  and str(base).lower().endswith(FITS_SUFFIXES)):
                # 'exposures/*.fits[SCI,1]': that HDU of each file ('img[12]' stays a character class)
                entries += [(Path(p), ext, True) for p in sorted(glob.glob(str(base), recursive=True))]
            elif text.startswith("@"):
                entries.append((Path(line), hdu, False))
            elif Path(line).is_dir():
                entries += [(p, hdu, False) for p in sorted(Path(line).rglob("*.fits*")) if p.is_file()]
            elif any(c in line for c in "*?["):
                entries += [(Path(p), hdu, False) for p in sorted(glob.glob(line, recursive=True))]
            else:
                entries.append((Path(line), hdu, False))
    if not entries:
        msg = f"no input files found in {[str(i) for i in inputs]}"
        raise GalgenValueError(msg)
    resolved = [(p.resolve(), h, named) for p, h, named in entries]
    root = Path(os.path.commonpath([str(p.parent) for p, _, _ in resolved]))
    items, seen = [], set()
    for p, h, named in resolved:
        rel = p.relative_to(root)
        key = fits_stem(str(rel))  # frame.fits.bz2 -> frame (written as frame.fits)
        if named:  # its own HDU: flt.fits[SCI,2] -> flt_SCI_2
            key += "_" + re.sub(r"[^A-Za-z0-9.+-]+", "_", str(h)).strip("_")
        if key in seen:
            msg = (f"{p}{f'[{h}]' if named else ''}: listed twice, or named like another input but for its "
                   f"FITS suffix (both would be written as {key}.fits); rename one")
            raise GalgenValueError(msg)
        seen.add(key)
        items.append(BatchItem(key=key, path=str(p), hdu=h))
    return items


#: Position columns, tried in this order (any case): galgen's own ``ra``/``dec``, then what
#: catalogs from survey pipelines and archives name them: SExtractor (windowed, then isophotal
#: barycentre, then ``X_WORLD``), VizieR (J2000, ICRS), the LSST pipelines, plain ``RAdeg``.
POSITION_COLUMNS = (("ra", "dec"), ("ALPHAWIN_J2000", "DELTAWIN_J2000"), ("ALPHA_J2000", "DELTA_J2000"),
                    ("X_WORLD", "Y_WORLD"), ("RAJ2000", "DEJ2000"), ("_RAJ2000", "_DEJ2000"),
                    ("RA_ICRS", "DE_ICRS"), ("coord_ra", "coord_dec"), ("RAdeg", "DEdeg"),
                    ("ra_deg", "dec_deg"))
#: Columns naming the brick, tile or image a pipeline numbered its objects in (any case): an
#: identifier that repeats across them is made unique with it (``<brickname>_<objid>``).
BRICK_COLUMNS = ("brickname", "brickid", "tilename", "tract_patch", "field", "image")
#: Identifier columns, tried in this order (any case): the first one present names the galaxies.
ID_COLUMNS = ("id", "objID", "object_id", "objectId", "source_id", "COADD_OBJECT_ID", "NUMBER", "name")


def _read_table(catalog: str | os.PathLike) -> Table:
    """The table of a catalog file: in a FITS file the first table HDU with position columns
    (a SExtractor FITS_LDAC catalog keeps its objects in the second table), in any other file
    what astropy identifies, else what its ASCII reader makes of it (SExtractor ``ASCII_HEAD``,
    CSV, whitespace-separated columns with a header line)."""
    from astropy.io import fits

    if not Path(catalog).is_file():
        msg = f"{catalog}: no such catalog file; check the path"
        raise GalgenFileError(msg)
    with open(catalog, "rb") as stream:
        head = stream.read(9)
    # FITS, or FITS compressed as astropy opens it (cat.fits.gz of a FITS_LDAC catalog)
    is_fits = head == b"SIMPLE  =" or (head[:2] in (b"\x1f\x8b", b"BZ") and ".fit" in str(catalog).lower())
    hint = ("give an ECSV, FITS table, VOTable, CSV or SExtractor catalog with ra and dec columns "
            "(degrees, or an angle unit)")
    try:
        if is_fits:
            with fits.open(catalog) as hdus:
                tables = [k for k, h in enumerate(hdus) if isinstance(h, fits.BinTableHDU | fits.TableHDU)]
                with_positions = [k for k in tables if _position_columns(hdus[k].columns.names)]
            if not tables:
                msg = f"{catalog}: a FITS file with no table HDU; {hint}"
                raise GalgenFileError(msg)
            return Table.read(catalog, hdu=(with_positions or tables)[0])
        try:
            return Table.read(catalog)
        except Exception as exc:
            if "could not be identified" not in str(exc):  # a known format that does not parse
                raise
            return Table.read(catalog, format="ascii")  # an extension astropy does not know: .cat, .txt
    except GalgenFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - astropy raises ValueError, OSError, IORegistryError...
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        msg = f"{catalog}: not a table astropy can read ({reason}); {hint}"
        raise GalgenFileError(msg) from None


def _position_columns(names: list[str]) -> tuple[str, str] | None:
    """The (ra, dec) column names among ``names``, by :data:`POSITION_COLUMNS`; ``None``."""
    lower = {n.lower(): n for n in names}
    for ra, dec in POSITION_COLUMNS:
        if ra.lower() in lower and dec.lower() in lower:
            return lower[ra.lower()], lower[dec.lower()]
    return None


def _degrees(column: Table.Column, hours: bool, catalog: object) -> np.ndarray:  # noqa: FBT001
    """A position column in degrees (float, NaN where masked): converted from its unit when it
    has one, degrees when it has none; text is read as numbers (degrees) or, when it is not,
    as sexagesimal angles (``10:00:24.0`` or ``10h00m24s`` for right ascension: hours unless the
    text says ``d``; ``+02:12:00`` for declination)."""
    from astropy.coordinates import Angle

    masked = np.ma.getmaskarray(column)
    try:
        if column.dtype.kind in "USO":
            text = np.where(masked, "0", np.asarray(column, str))
            try:
                values = text.astype(float) * u.deg
            except ValueError:
                values = Angle(text, unit=u.hourangle if hours else u.deg)
            if column.unit is not None:  # numbers written as text, with a unit
                values = values.value * column.unit
        else:
            values = u.Quantity(column, u.deg if column.unit is None else column.unit)
        degrees = values.to_value(u.deg)
    except (u.UnitsError, TypeError, ValueError):
        msg = (f"{catalog}: column {column.name!r} is not an angle (unit {column.unit}); give "
               "degrees, a unit astropy converts to degrees, or sexagesimal text")
        raise GalgenValueError(msg) from None
    return np.where(masked, np.nan, np.asarray(degrees, float))


def read_catalog(catalog: str | os.PathLike | Table) -> tuple[Table, dict[str, str]]:
    """A catalog table and its position and identifier columns.

    The positions are the first pair of :data:`POSITION_COLUMNS` the table has (``ra``/``dec``,
    SExtractor's ``ALPHAWIN_J2000``/``DELTAWIN_J2000``, VizieR's ``RAJ2000``/``DEJ2000``, the LSST
    pipelines' ``coord_ra``/``coord_dec``, ...; any case), the identifiers the first of
    :data:`ID_COLUMNS` (``id``, ``objID``, ``NUMBER``, ...); other names are logged.

    Parameters
    ----------
    catalog : path or Table
        ECSV, FITS table (SExtractor FITS_LDAC too), VOTable, CSV, SExtractor ``ASCII_HEAD``,
        or any table astropy's ASCII reader can guess.

    Returns
    -------
    table : Table
        Its position columns replaced by plain floats in degrees (converted from their unit
        when they have one; text read as degrees or sexagesimal); a masked position is NaN.
    cols : dict
        ``{"ra": name, "dec": name}`` and ``"id": name`` when there is one.

    Raises
    ------
    GalgenFileError
        No such file, or not a table astropy can read.
    GalgenValueError
        No position columns, or columns that are not angles.
    """
    table = catalog if isinstance(catalog, Table) else _read_table(catalog)
    pair = _position_columns(table.colnames)
    if pair is None:
        msg = (f"{catalog}: needs right ascension and declination columns ('ra' and 'dec', or one of "
               f"{', '.join('/'.join(p) for p in POSITION_COLUMNS[1:])}; any case, degrees); "
               f"it has {table.colnames}")
        raise GalgenValueError(msg)
    cols = {"ra": pair[0], "dec": pair[1]}
    lower = {c.lower(): c for c in table.colnames}
    ident = next((lower[c.lower()] for c in ID_COLUMNS if c.lower() in lower), None)
    if ident is not None:
        cols["id"] = ident
    if pair[0].lower() != "ra" or (ident is not None and ident.lower() != "id"):
        log.info("%s: positions from %s/%s, ids from %s", catalog, *pair, ident or "row numbers")
    table = table.copy(copy_data=False)
    for key in ("ra", "dec"):
        table[cols[key]] = _degrees(table[cols[key]], key == "ra", catalog)
    return table, cols


def catalog_keys(table: Table, cols: dict[str, str],
                 catalog: object = "catalog") -> tuple[list[str], list[str]]:
    """Each row's id (its ``id`` column as text, else its row number as ``000042``) and key
    (``cutout_<id>``, with characters other than letters, digits and ``.+-_`` made ``_`` so that
    it can name a file: ``J100024+021200`` stays, ``NGC 1300`` becomes ``NGC_1300``).

    A pipeline's identifier (``objid``, ``NUMBER``, ...; not a column named ``id``) that repeats
    is taken with the brick or image it numbers objects in (:data:`BRICK_COLUMNS`:
    ``<brickname>_<objid>`` for a Legacy Surveys sweep), else the row numbers are (logged).

    Raises
    ------
    GalgenValueError
        Repeated values in a column named ``id``, or ids that become the same key.
    """
    if "id" in cols:
        ids = [str(v).strip() for v in table[cols["id"]]]
    else:
        ids = [f"{i:06d}" for i in range(len(table))]
    lower = {c.lower(): c for c in table.colnames}
    if len(set(ids)) != len(ids) and cols.get("id", "").lower() != "id":
        # a pipeline's object number is unique per brick, tile or image only (Tractor's objid,
        # SExtractor's NUMBER): with the brick's name it is unique; else row numbers, said
        group = next((lower[c] for c in BRICK_COLUMNS if c in lower), None)
        if group is not None:
            ids = [f"{str(b).strip()}_{i}" for b, i in zip(table[group], ids, strict=True)]
        if group is None or len(set(ids)) != len(ids):
            log.warning("%s: the %r column repeats values (unique per brick or image only): galaxies are "
                        "named by their row number instead", catalog, cols["id"])
            ids = [f"{i:06d}" for i in range(len(table))]
        else:
            log.info("%s: ids %r are unique with %r: galaxies are named <%s>_<%s>", catalog, cols["id"],
                     group, group, cols["id"])
    if len(set(ids)) != len(ids):
        repeated = sorted(i for i, n in Counter(ids).items() if n > 1)[:3]
        msg = (f"{catalog}: the {cols['id']!r} column has repeated values ({', '.join(repeated)}, ...); "
               "each galaxy needs its own id")
        raise GalgenValueError(msg)
    keys = ["cutout_" + re.sub(r"[^A-Za-z0-9.+_-]", "_", i) for i in ids]
    if len(set(keys)) != len(keys):
        clash = sorted(k for k, n in Counter(keys).items() if n > 1)[:3]
        msg = (f"{catalog}: ids that differ only in characters a file name cannot hold give the same "
               f"output name ({', '.join(clash)}); give ids of letters, digits and .+-_")
        raise GalgenValueError(msg)
    return ids, keys


def catalog_fwhm(table: Table, column: str, catalog: object = "catalog") -> np.ndarray:
    """Each row's PSF FWHM in arcsec from ``column`` (any case): converted from its unit when it
    has one, arcsec when it has none (the Legacy Surveys' ``psfsize_r``, DES's ``PSF_FWHM`` in
    arcsec); NaN where it is masked, not finite or not positive (those rows fall back on the
    run's PSF).

    Raises
    ------
    GalgenValueError
        No such column, or one that is not an angle.
    """
    lower = {c.lower(): c for c in table.colnames}
    if column.lower() not in lower:
        msg = f"{catalog}: no column {column!r} for the PSF FWHM; it has {table.colnames}"
        raise GalgenValueError(msg)
    values = table[lower[column.lower()]]
    try:
        fwhm = u.Quantity(values, u.arcsec if values.unit is None else values.unit).to_value(u.arcsec)
    except (u.UnitsError, TypeError, ValueError):
        msg = (f"{catalog}: column {values.name!r} (unit {values.unit}) is not a PSF FWHM in arcsec or "
               "another angle")
        raise GalgenValueError(msg) from None
    fwhm = np.where(np.ma.getmaskarray(values), np.nan, np.asarray(fwhm, float))
    return np.where(np.isfinite(fwhm) & (fwhm > 0), fwhm, np.nan)


#: Stamp sides a catalog run cuts when each galaxy's size sets its stamp (:func:`catalog_sizes`):
#: few distinct shapes, so that the stacks of one image hold stamps of a few sizes.
STAMP_SIDES = (32, 48, 64, 96, 128, 192, 256, 384, 512)


def catalog_sizes(table: Table, column: str, pixel_scales: np.ndarray, *, size: int = 64,
                  factor: float = 10.0, catalog: object = "catalog") -> np.ndarray:
    """Each galaxy's stamp side (pixels) from a column of its size: ``factor`` of them across.

    Parameters
    ----------
    table : astropy.table.Table
        The catalog.
    column : str
        A radius (any case): a half-light radius such as the Legacy Surveys' ``shape_r``
        (arcsec), SExtractor's ``FLUX_RADIUS`` (pixels of the image it was run on), DES's
        ``FLUX_RADIUS_I``. In arcsec (or the angle of its unit) unless its unit is pixels.
    pixel_scales : numpy.ndarray
        ``(N,)`` pixel scale (arcsec) of the image each row is cut from (NaN: on no image).
    size : int, default 64
        The smallest side (and the side of rows without a usable radius: masked, NaN, <= 0).
    factor : float, default 10
        Radii across the stamp: 5 half-light radii each side hold 99.8 % of an exponential disk's
        light and 88 % of a de Vaucouleurs profile's (inside the circle; the square holds more).

    Returns
    -------
    numpy.ndarray
        ``(N,)`` int: the smallest of :data:`STAMP_SIDES` (or ``size``) that is at least
        ``max(size, factor x radius)``; at most 512 (a larger galaxy is cut at 512 and logged).

    Raises
    ------
    GalgenValueError
        No such column, or a unit that is neither an angle nor pixels.
    """
    lower = {c.lower(): c for c in table.colnames}
    if column.lower() not in lower:
        msg = f"{catalog}: no column {column!r} for the galaxies' sizes; it has {table.colnames}"
        raise GalgenValueError(msg)
    values = table[lower[column.lower()]]
    radius = np.where(np.ma.getmaskarray(values), np.nan, np.asarray(np.ma.filled(values, np.nan), float))
    if values.unit is not None and values.unit.physical_type != "angle":
        if u.Unit(values.unit) != u.pix:
            msg = (f"{catalog}: column {values.name!r} (unit {values.unit}) is not a radius in arcsec, "
                   "another angle or pixels")
            raise GalgenValueError(msg)
        pixels = radius
    else:
        arcsec = radius if values.unit is None else (radius * values.unit).to_value(u.arcsec)
        pixels = arcsec / np.asarray(pixel_scales, float)
    want = np.where(np.isfinite(pixels) & (pixels > 0), factor * pixels, 0.0)
    sides = np.array(sorted({size, *(s for s in STAMP_SIDES if s > size)}))
    big = want > sides[-1]
    if big.any():
        log.warning("%s: %d %s more than %d pixels across at %g %s (largest %.0f), cut at %d pixels",
                    catalog, int(big.sum()), "galaxy is" if big.sum() == 1 else "galaxies are", sides[-1],
                    factor, values.name, float(want.max()), sides[-1])
    return sides[np.minimum(np.searchsorted(sides, want), len(sides) - 1)]


def catalog_items(catalog: str | os.PathLike, images: list[str | os.PathLike], size: int = 64,
                  hdu: int | str | None = None, fwhm_column: str | None = None,
                  size_column: str | None = None, size_factor: float = 10.0) -> list[BatchItem]:
    """Cutouts of ``size`` pixels around each catalog position (:func:`read_catalog`), cut from
    the image whose footprint contains it (the first one), keyed by :func:`catalog_keys`; with
    ``fwhm_column``, each with its own PSF FWHM (:func:`catalog_fwhm`); with ``size_column``,
    each of a side set by its size (:func:`catalog_sizes`, at least ``size``)."""
    from galgen.batch.catalog import place_catalog

    placed = place_catalog(catalog, images, hdu=hdu, size=size, fwhm_column=fwhm_column,
                           size_column=size_column, size_factor=size_factor)
    items = []
    for i, key in enumerate(placed.keys):  # a position on no image goes to the first: its cutout fails, said
        path, chip = placed.sources[max(int(placed.owner[i]), 0)]
        items.append(BatchItem(key=key, path=path, hdu=chip,
                               position=(float(placed.ra[i]), float(placed.dec[i])),
                               size=int(placed.sides[i]), psf_fwhm=float(placed.fwhm[i])))
    return items
