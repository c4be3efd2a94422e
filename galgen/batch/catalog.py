"""Catalog runs: restore the galaxies of a catalog from the large images they lie on.

``galgen batch MOSAIC.fits --catalog CAT.ecsv`` at survey scale. Each image is opened once,
memory-mapped (a 10k x 10k mosaic is not read into memory), its header and WCS parsed once;
the catalog's sky positions go to pixels in one vectorised call; stamps are cut by slicing
(their WCS is the image's with ``CRPIX`` shifted: the same sky, no header parsed again);
stamps are restored a chunk at a time through the engine (the same calls as
:func:`galgen.restore`, so the same pixels) and each chunk is written as one stacked file
(:mod:`galgen.io.stamps`): ``stamps_00000.fits``, ``stamps_00001.fits``, ...

Resume and fault isolation as for files (:mod:`galgen.batch.runner`): a chunk file is written
atomically, then one journal line per stamp; a rerun skips a chunk whose stamps are all ``ok``
with the same parameters and whose file exists, and redoes the others whole. A stamp that
cannot be cut or restored is a ``failed`` row with its reason (its plane is NaN); positions
that lie on no image are ``failed`` rows without an output.
"""

from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from galgen._warnings import filters_kept
from galgen.batch.journal import make_outdir, noise_columns, open_journal, read_journal, write_manifest
from galgen.batch.mosaic import Mosaic, cut_stamp, open_mosaic, plane_files, stamp_origin
from galgen.batch.options import BatchOptions
from galgen.batch.runner import (
    _REPEATING_LOGGERS,
    _each_message_once,
    _error_text,
    _model_hash,
    source_name,
)
from galgen.errors import GalgenValueError
from galgen.io.wcs import exposure_position
from galgen.psf.stars import StarCheck

__all__ = ["Mosaic", "CatalogChunk", "open_mosaic", "cut_stamp", "plan_catalog", "restore_chunk",
           "run_catalog", "stamp_origin"]

#: A restorer's per-stamp provenance notes (``Restoration.params``) written as ``STAMPS`` columns:
#: in the file's shared HISTORY one stamp's note would read as every stamp's.
_STAMP_NOTES = ("snr_clamp", "residual_light")


@dataclass(frozen=True)
class CatalogChunk:
    """Stamps restored together and written to one file.

    ``rows`` are ``(key, id, ra_deg, dec_deg, x, y, fwhm)`` with ``(x, y)`` the 0-based pixel position
    on ``path``; ``star_check`` is the run's PSF checked against the stars of ``path``
    (:func:`galgen.batch.psfcheck.check_mosaic_psf`), ``None`` when unchecked."""

    number: int
    path: str
    rows: tuple[tuple[str, str, float, float, float, float, float], ...]
    hdu: int | str | None = None
    size: int = 64
    star_check: StarCheck | None = None

    @property
    def output_name(self) -> str:
        """File name of the chunk's stack."""
        return f"stamps_{self.number:05d}.fits"


def chip_hdus(path: str | os.PathLike) -> list[int | None]:
    """The HDUs of ``path`` a catalog run cuts from: ``[None]`` (the first image, as
    :func:`open_mosaic` picks it) for a file of one image, else the index of every 2-D image HDU
    with a celestial WCS that is not a companion plane (mask, uncertainty, weight, PSF): each
    chip of a DECam exposure or an HST ``flt`` file is then an image of its own."""
    from galgen.io.hdus import COVERAGE_NAMES, IVAR_NAMES, MASK_NAMES, STD_NAMES, VAR_NAMES
    from galgen.io.wcs import celestial_wcs

    companions = {*MASK_NAMES, *STD_NAMES, *VAR_NAMES, *IVAR_NAMES, *COVERAGE_NAMES, "CTX", "CON", "BKG",
                  "BACKGROUND", "SKY", "MODEL", "RESID", "RESIDUAL", "CHI", "EXP", "EXPMAP", "NEXP",
                  "COVERAGE", "UNCERT", "SAMPLES"}
    try:
        with fits.open(path, memmap=True) as hdul:
            chips = [k for k, h in enumerate(hdul)
                     if h.is_image and h.header.get("NAXIS", 0) == 2 and h.name.upper() not in companions
                     and "PSF" not in h.name.upper() and celestial_wcs(h.header) is not None]
    except Exception:  # noqa: BLE001 - unreadable: open_mosaic says why, once
        return [None]
    return chips if len(chips) > 1 else [None]


def locate(sky: object, images: list[str | os.PathLike], hdu: int | str | None = None,
           pixel_scale: float | None = None) -> tuple[list[tuple], np.ndarray, np.ndarray, list[float]]:
    """Which image holds each sky position: the first, in the order given, whose pixels it falls
    on (a file of several chips is one image per chip, :func:`chip_hdus`, unless ``hdu`` picks
    one; each opened once, memory-mapped).

    Returns
    -------
    sources : list of (path, hdu)
        The images (and chips) in that order.
    owner : numpy.ndarray
        ``(N,)`` index into ``sources``; -1 for a position on none of them.
    xy : numpy.ndarray
        ``(N, 2)`` 0-based pixel position on its image (NaN where on none).
    scales : list of float
        Each source's pixel scale (arcsec).
    """
    owner = np.full(len(sky), -1)
    xy = np.full((len(sky), 2), np.nan)
    sources, scales = [], []  # (path, hdu): an image, or one chip of a file of several
    for image in images:
        for chip in [hdu] if hdu is not None else chip_hdus(image):
            mosaic = open_mosaic(image, chip, pixel_scale)
            try:
                x, y = mosaic.wcs.world_to_pixel(sky)
                h, w = mosaic.data.shape
                sources.append((mosaic.path, chip))
                scales.append(mosaic.pixel_scale)
            finally:
                mosaic.close()
            inside = (owner < 0) & (x >= -0.5) & (x < w - 0.5) & (y >= -0.5) & (y < h - 0.5)
            owner[inside] = len(sources) - 1
            xy[inside] = np.column_stack([x, y])[inside]
    return sources, owner, xy, scales


@dataclass(frozen=True)
class CatalogPlacement:
    """A catalog's rows placed on the images (:func:`place_catalog`), one entry per row.

    ``ids``, ``keys`` (:func:`galgen.batch.inputs.catalog_keys`), ``ra``, ``dec`` (deg), ``fwhm``
    (the row's PSF FWHM in arcsec, NaN: the run's), ``sides`` (stamp side, pixels); ``sources``,
    ``owner`` and ``xy`` as :func:`locate` returns them."""

    ids: list[str]
    keys: list[str]
    ra: np.ndarray
    dec: np.ndarray
    fwhm: np.ndarray
    sides: np.ndarray
    sources: list[tuple]
    owner: np.ndarray
    xy: np.ndarray


def place_catalog(catalog: str | os.PathLike | Table, images: list[str | os.PathLike], *,
                  hdu: int | str | None = None, pixel_scale: float | None = None, size: int = 64,
                  fwhm_column: str | None = None, size_column: str | None = None,
                  size_factor: float = 10.0) -> CatalogPlacement:
    """Read a catalog (:func:`galgen.batch.inputs.read_catalog`), name its rows, find the image
    each lies on (:func:`locate`) and its own PSF FWHM and stamp side from its columns
    (:func:`~galgen.batch.inputs.catalog_fwhm`, :func:`~galgen.batch.inputs.catalog_sizes`): what
    a stacked run (:func:`plan_catalog`) and a run of a file per galaxy
    (:func:`~galgen.batch.inputs.catalog_items`) both start from."""
    from astropy.coordinates import SkyCoord

    from galgen.batch.inputs import catalog_fwhm, catalog_keys, catalog_sizes, read_catalog

    table, cols = read_catalog(catalog)
    ids, keys = catalog_keys(table, cols, catalog)
    fwhm = catalog_fwhm(table, fwhm_column, catalog) if fwhm_column else np.full(len(table), np.nan)
    ra, dec = np.asarray(table[cols["ra"]], float), np.asarray(table[cols["dec"]], float)
    sources, owner, xy, scales = locate(SkyCoord(ra, dec, unit="deg"), images, hdu, pixel_scale)
    sides = np.full(len(table), size)
    if size_column:
        row_scales = np.where(owner >= 0, np.asarray(scales)[np.maximum(owner, 0)], np.nan)
        sides = catalog_sizes(table, size_column, row_scales, size=size, factor=size_factor, catalog=catalog)
    return CatalogPlacement(ids, keys, ra, dec, fwhm, sides, sources, owner, xy)


def plan_catalog(catalog: str | os.PathLike | Table, images: list[str | os.PathLike], *, size: int = 64,
                 hdu: int | str | None = None, chunk_size: int = 256, pixel_scale: float | None = None,
                 fwhm_column: str | None = None, size_column: str | None = None,
                 size_factor: float = 10.0) -> tuple[list[CatalogChunk], list[tuple]]:
    """Chunks of catalog positions, each on the first image whose footprint holds it.

    Parameters
    ----------
    catalog : path or Table
        Columns ``ra``, ``dec`` (degrees, any case) and optionally ``id``.
    images : list of path
        The images (each opened once here, for its WCS). A file of several chips with a WCS
        each (:func:`chip_hdus`) is one image per chip, unless ``hdu`` picks one.
    size, hdu, chunk_size, pixel_scale
        Stamp side (pixels), image HDU, stamps per output file, pixel-scale check.
    fwhm_column : str, optional
        A column of each galaxy's PSF FWHM (:func:`galgen.batch.inputs.catalog_fwhm`): the
        rows' last entry (NaN without one).
    size_column, size_factor : optional
        A column of each galaxy's radius: its stamp is ``size_factor`` radii across, at least
        ``size`` (:func:`galgen.batch.inputs.catalog_sizes`); each chunk holds stamps of one side.

    Returns
    -------
    chunks : list of CatalogChunk
        In catalog order within each image (and side), images in the order given.
    off : list of (key, id, ra, dec)
        Positions on no image.
    """
    placed = place_catalog(catalog, images, hdu=hdu, pixel_scale=pixel_scale, size=size,
                           fwhm_column=fwhm_column, size_column=size_column, size_factor=size_factor)
    ids, keys, ra, dec, fwhm = placed.ids, placed.keys, placed.ra, placed.dec, placed.fwhm
    owner, sides, xy = placed.owner, placed.sides, placed.xy
    chunks, number = [], 0
    for k, (path, chip) in enumerate(placed.sources):
        for side in np.unique(sides[owner == k]):  # one stamp side per stack
            mine = np.flatnonzero((owner == k) & (sides == side))
            for start in range(0, len(mine), chunk_size):
                rows = tuple((keys[i], ids[i], float(ra[i]), float(dec[i]), float(xy[i, 0]),
                              float(xy[i, 1]), float(fwhm[i])) for i in mine[start:start + chunk_size])
                chunks.append(CatalogChunk(number, path, rows, chip, int(side)))
                number += 1
    off = [(keys[i], ids[i], float(ra[i]), float(dec[i])) for i in np.flatnonzero(owner < 0)]
    return chunks, off


def _prepare_chunk(chunk: CatalogChunk, mosaic: Mosaic, options: BatchOptions) -> list[tuple]:
    """``(row, image, prepared)`` or ``(row, exception)`` for each stamp of a chunk."""
    from galgen.psf.templates import own_hdu
    from galgen.restoration.engine import prepare_observation

    out = []
    try:  # '[EXT]' or a template: this image's PSF
        psf = own_hdu(options.psf, mosaic.path, mosaic.header, chunk.hdu)
    except Exception as exc:  # noqa: BLE001 - every stamp of the image fails with it, the run goes on
        return [(row, exc) for row in chunk.rows]
    for row in chunk.rows:
        try:
            img = cut_stamp(mosaic, row[4], row[5], chunk.size)
            prep = prepare_observation(img, options.fwhm_for(_row_fwhm(row)), psf=psf,
                                       noise_rms=options.noise_rms, moffat_beta=options.moffat_beta,
                                       background=options.background,
                                       psf_position=exposure_position(mosaic.header, row[4], row[5]),
                                       psf_angle=options.psf_angle)
            out.append((row, img, prep))
        except Exception as exc:  # noqa: BLE001 - one bad stamp must not stop the chunk
            out.append((row, exc))
    return out


def _finish_chunk(chunk: CatalogChunk, prepared: list[tuple], restorer, options: BatchOptions,  # noqa: ANN001
                  outdir: Path, digest: str, t0: float) -> list[dict]:
    """Restore the prepared stamps of a chunk, write its stack, return its journal rows."""
    from galgen.io.stamps import write_stamps
    from galgen.restoration.engine import finalize

    good = [p for p in prepared if len(p) == 3]
    results: dict[str, object] = {}
    errors: dict[str, str] = {p[0][0]: _error_text(p[1]) for p in prepared if len(p) == 2}
    warnings: dict[str, str] = {}
    # a stamp's own provenance notes (STAMPS columns, not the file's shared HISTORY)
    notes: dict[str, dict[str, str]] = {}
    method = ""
    if good:
        try:
            outs = restorer.restore_batch([p for _, _, p in good], samples=options.samples)
        except Exception as exc:  # noqa: BLE001 - the chunk's stamps fail, the run goes on
            errors.update({row[0]: _error_text(exc) for row, _, _ in good})
            outs = []
        for (row, img, prep), out in zip(good, outs, strict=False):
            try:
                results[row[0]] = finalize(img, prep, out, scale=restorer.scale, samples=options.samples,
                                           psf_check=chunk.star_check)
                warnings[row[0]], method = out.regime_warning, out.method
                notes[row[0]] = {k: str(out.params.get(k, "")) for k in _STAMP_NOTES}
            except Exception as exc:  # noqa: BLE001
                errors[row[0]] = _error_text(exc)
    path = outdir / chunk.output_name
    stack_rows = [{"key": row[0], "id": row[1], "ra": row[2], "dec": row[3], "x": row[4], "y": row[5],
                   "status": "ok" if row[0] in results else "failed", "error": errors.get(row[0], ""),
                   "warning": warnings.get(row[0], ""), **notes.get(row[0], dict.fromkeys(_STAMP_NOTES, ""))}
                  for row in chunk.rows]
    shape = (chunk.size * restorer.scale, chunk.size * restorer.scale)
    output = str(path)
    try:
        write_stamps(path, [results.get(row[0]) for row in chunk.rows], stack_rows, shape=shape)
    except Exception as exc:  # noqa: BLE001 - e.g. a full disk: every stamp of the chunk failed
        errors = {row[0]: f"writing {path}: {_error_text(exc)}" for row in chunk.rows}
        results, output = {}, ""
    share = (time.perf_counter() - t0) / max(len(chunk.rows), 1)
    verdict = chunk.star_check.verdict if chunk.star_check is not None else ""
    rows = []
    for index, row in enumerate(chunk.rows):
        res = results.get(row[0])
        rows.append({"key": row[0], "input": source_name(chunk.path, chunk.hdu), "output": output,
                     "index": index,
                     "status": "ok" if res is not None else "failed", "seconds": round(share, 4),
                     "chi2": float(res.meta["GALGENX2"]) if res is not None else float("nan"),
                     "model": method if res is not None else "", "params": digest,
                     "error": errors.get(row[0], ""), "warning": warnings.get(row[0], ""),
                     "flag": res.meta["GALGENFL"] if res is not None else "", "psf_check": verdict,
                     **noise_columns(res.meta if res is not None else None)})
    return rows


def restore_chunk(chunk: CatalogChunk, options: BatchOptions, outdir: str | os.PathLike, digest: str,
                  restorer=None) -> list[dict]:  # noqa: ANN001
    """Cut, restore and write one chunk; returns its journal rows (what a Dask task runs: the
    image is memory-mapped by the task, the model's weights are cached by the worker)."""
    t0 = time.perf_counter()
    if restorer is None:
        restorer = _restorer(options)
    mosaic = open_mosaic(chunk.path, chunk.hdu, options.pixel_scale,
                         **plane_files(options, chunk.path, chunk.hdu))
    try:
        prepared = _prepare_chunk(chunk, mosaic, options)
    finally:
        mosaic.close()
    return _finish_chunk(chunk, prepared, restorer, options, Path(outdir), digest, t0)


def _restorer(options: BatchOptions):  # noqa: ANN202
    from galgen.restoration.methods import get_method

    restorer = get_method(options.method, options.scale, device=options.device, **options.method_options)
    if options.compile:
        restorer.compile()
    if hasattr(restorer, "batch_size"):
        restorer.batch_size = options.stamps_per_pass
    return restorer


def run_catalog(catalog: str | os.PathLike | Table, images: list[str | os.PathLike], options: BatchOptions,
                outdir: str | os.PathLike, *, size: int = 64, hdu: int | str | None = None,
                chunk_size: int = 256, dask_scheduler: str | None = None, local_workers: int = 0,
                progress: bool = True, dry_run: bool = False, size_column: str | None = None,
                size_factor: float = 10.0) -> Table:
    """Restore every catalog galaxy into stacked chunk files in ``outdir``; returns the manifest.

    Parameters
    ----------
    catalog : path or Table
        ``ra``, ``dec`` (degrees) and optionally ``id``.
    images : list of path
        Images holding the galaxies (each position is cut from the first one covering it).
    options : BatchOptions
        As for :func:`galgen.batch.run_batch`; ``pixel_scale`` only checks the WCS.
    outdir : path
        Output directory (created): ``stamps_NNNNN.fits``, ``manifest.ecsv`` (one row per galaxy:
        ``output`` is its stack, ``index`` its plane and row there) and the journal.
    size : int, default 64
        Stamp side in input pixels (the smallest one with ``size_column``).
    size_column, size_factor : optional
        A column of each galaxy's radius (``shape_r``, ``FLUX_RADIUS``): its stamp is
        ``size_factor`` (10) radii across, in a few steps of side (:func:`plan_catalog`).
    chunk_size : int, default 256
        Stamps per output file (and per Dask task).
    dask_scheduler, local_workers
        As for :func:`galgen.batch.run_batch`: chunks go to Dask workers, each memory-maps the
        image and loads the model once.
    dry_run : bool
        Only report what would be done.

    With ``options.check_psf`` (the default), the PSF given is checked against the stars of each
    image, once per image, on a region around its galaxies
    (:func:`galgen.batch.psfcheck.check_mosaic_psf`), in a thread while the model loads and the
    first chunk is restored: its verdict goes to the manifest's ``psf_check`` column and each
    stamp's ``GALGENPS``/``GALGENPR``, and a PSF the stars call too wide or too narrow flags every
    stamp of that image ``PSF``. Only images with stamps still to restore are checked; a check
    that fails is logged and its image's stamps are restored unchecked.
    """
    outdir = Path(outdir)
    # the stamps' sides change the outputs too: a rerun with other sides redoes the stacks
    sizing = f"{options.digest(_model_hash(options))}|{size}|{size_column}|{size_factor:g}"
    digest = hashlib.sha256(sizing.encode()).hexdigest()[:16]
    chunks, off = plan_catalog(catalog, images, size=size, hdu=hdu, chunk_size=chunk_size,
                               pixel_scale=options.pixel_scale, fwhm_column=options.psf_fwhm_column,
                               size_column=size_column, size_factor=size_factor)
    images_here = {c.path for c in chunks}
    for chunk in chunks:
        if str((outdir / chunk.output_name).resolve()) in images_here:
            msg = f"{outdir / chunk.output_name}: an output would overwrite an input image; choose another -o"
            raise GalgenValueError(msg)
    journal = read_journal(outdir)

    def done(chunk: CatalogChunk) -> bool:
        target = str(outdir / chunk.output_name)
        rows = [journal.get(r[0]) for r in chunk.rows]
        return all(r is not None and r["status"] == "ok" and r["params"] == digest and r["output"] == target
                   for r in rows) and Path(target).is_file()

    todo = [c for c in chunks if not done(c)]
    keys = [r[0] for c in chunks for r in c.rows] + [o[0] for o in off]
    if dry_run:
        status = {r[0]: "todo" for c in todo for r in c.rows}
        rows = [{"key": k, "output": str(outdir / c.output_name), "index": i, "status": status.get(k, "skip")}
                for c in chunks for i, (k, *_) in enumerate(c.rows)]
        return Table(rows=rows, names=("key", "output", "index", "status")) if rows else Table()
    # the star checks run in a thread while the model loads and the first chunk is prepared and
    # restored (numpy, scipy and photutils work that mostly releases the GIL; on 2 cores a 900-stamp
    # run took 18.3-18.8 s with them, 18.3 s without): a chunk waits for them when it is finished
    checking = ThreadPoolExecutor(1) if options.check_psf and todo else None
    with filters_kept(checking is not None):  # the libraries' catch_warnings in two threads at once
        try:
            checks = checking.submit(_star_checks, todo, options) if checking else None
            _run_chunks(todo, off, keys, options, outdir, digest, checks, dask_scheduler, local_workers,
                        progress)
        finally:
            if checking is not None:
                checking.shutdown(wait=True, cancel_futures=True)
    return write_manifest(outdir, keys[:len(keys) - len(off)], {"index": -1, "psf_check": ""},
                           extra=_off_rows(off, digest))


def _off_rows(off: list[tuple], digest: str) -> Table:
    """The manifest's rows of catalog positions on none of the images (``failed``, ``index`` -1,
    no output), built column by column."""
    from galgen.batch.runner import noise_columns

    n = len(off)
    keys, ids, ra, dec = (list(c) for c in zip(*off, strict=True)) if n else ([], [], [], [])
    ra, dec = np.asarray(ra, float), np.asarray(dec, float)
    errors = [f"ra={r:.6f} dec={d:.6f} (id {i}) lies on none of the images"
              if np.isfinite(r) and np.isfinite(d) else
              f"id {i} has no position in the catalog (ra/dec NaN or masked)"
              for i, r, d in zip(ids, ra, dec, strict=True)]
    text = {"input": "", "output": "", "status": "failed", "model": "", "params": digest, "warning": "",
            "flag": "", "psf_check": ""}
    columns = {"key": keys, **{k: [v] * n for k, v in text.items()}, "index": np.full(n, -1),
               "seconds": np.zeros(n), "chi2": np.full(n, np.nan), "error": errors,
               **{k: np.full(n, v) for k, v in noise_columns().items()}}
    return Table(columns)


def _run_chunks(todo: list[CatalogChunk], off: list[tuple], keys: list[str], options: BatchOptions,
                outdir: Path, digest: str, checks, dask_scheduler: str | None, local_workers: int,  # noqa: ANN001
                progress: bool) -> None:
    """The body of :func:`run_catalog`: the failed rows of galaxies on no image, then the chunks
    (``checks``: a future of :func:`_star_checks`, or None)."""
    from tqdm.auto import tqdm

    from galgen.batch.runner import on_dask

    make_outdir(outdir)
    n_todo = sum(len(c.rows) for c in todo)
    # positions on no image are not journaled (a survey-wide catalog over a few images has millions
    # of them): run_catalog adds them to the manifest from the plan, column by column
    bar = tqdm(total=n_todo, desc="restore", unit="stamp", disable=not progress)
    with open_journal(outdir) as record, _each_message_once(*_REPEATING_LOGGERS):
        if dask_scheduler or local_workers > 0:
            args = (options, str(outdir), digest)
            checked = [_checked(c, checks) for c in todo]  # a task carries its image's verdict
            for row in on_dask(restore_chunk, checked, args, dask_scheduler, local_workers):
                record(row)
                bar.update(1)
        else:
            _run_in_process(todo, options, outdir, digest, record, bar, checks)
    bar.close()


def _star_checks(chunks: list[CatalogChunk], options: BatchOptions) -> dict[tuple, StarCheck | None]:
    """The PSF checked against the stars of each image of ``chunks`` (once per image, around
    all of that image's stamps still to restore), by ``(path, hdu)``; ``None`` for an image whose check
    could not run (:func:`~galgen.batch.psfcheck.check_image_psf`: its stamps are restored
    unchecked)."""
    from galgen.batch.psfcheck import check_image_psf

    checks = {}
    for source in dict.fromkeys((c.path, c.hdu) for c in chunks):
        mine = [c for c in chunks if (c.path, c.hdu) == source]
        positions = np.array([(r[4], r[5]) for c in mine for r in c.rows], float).reshape(-1, 2)
        fwhms = [_row_fwhm(r) for c in mine for r in c.rows]
        checks[source] = check_image_psf(*source, options.checking(fwhms), positions=positions)
    return checks


def _checked(chunk: CatalogChunk, checks) -> CatalogChunk:  # noqa: ANN001
    """``chunk`` with its image's star check (waiting for the future ``checks``; unchanged when
    there is none)."""
    return chunk if checks is None else replace(chunk, star_check=checks.result()[(chunk.path, chunk.hdu)])


def _row_fwhm(row: tuple) -> float | None:
    """A plan row's own PSF FWHM (arcsec; NaN or ``None``: the run's)."""
    return row[6] if len(row) > 6 else None


def _run_in_process(todo: list[CatalogChunk], options: BatchOptions, outdir: Path, digest: str,
                    record, bar, checks=None) -> None:  # noqa: ANN001
    """Chunks one after another; with ``options.readers`` > 0, the next chunk is cut and prepared
    in a thread while the model restores this one (a GPU computes meanwhile). ``checks``: the
    future of the star checks, awaited when a chunk is finished."""
    if not todo:
        return
    restorer = _restorer(options)
    mosaics: dict[tuple, Mosaic] = {}

    def prepare(chunk: CatalogChunk) -> tuple[list[tuple], float]:
        t0 = time.perf_counter()
        try:
            source = (chunk.path, chunk.hdu)
            if source not in mosaics:
                mosaics[source] = open_mosaic(chunk.path, chunk.hdu, options.pixel_scale,
                                              **plane_files(options, chunk.path, chunk.hdu))
            return _prepare_chunk(chunk, mosaics[source], options), t0
        except Exception as exc:  # noqa: BLE001 - e.g. the image vanished: its stamps fail
            return [(row, exc) for row in chunk.rows], t0

    pool = ThreadPoolExecutor(1) if options.readers > 0 else None
    # the reader thread and this one may run the libraries' own warnings.catch_warnings at once
    with filters_kept(pool is not None):
        try:
            ahead = pool.submit(prepare, todo[0]) if pool else None
            for k, chunk in enumerate(todo):
                prepared, t0 = ahead.result() if pool else prepare(chunk)
                if pool and k + 1 < len(todo):
                    ahead = pool.submit(prepare, todo[k + 1])
                chunk = _checked(chunk, checks)  # noqa: PLW2901 - the same chunk, with its image's verdict
                for row in _finish_chunk(chunk, prepared, restorer, options, outdir, digest, t0):
                    record(row)
                    bar.update(1)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            for mosaic in mosaics.values():
                mosaic.close()
