"""The batch engine: restore many files, in process or on a Dask cluster, resumable, fault-isolated.

Integrity: each output is written atomically (temporary file + rename), then one
JSON line recording it is appended to ``<outdir>/.galgen_journal.jsonl`` and
flushed to the operating system (so a killed run loses no line; against power
cuts it is synced to disk at most once a second, and at the end). A re-run skips the items
whose journal entry says ``ok`` with the same parameters and model hash and whose
output exists; an item killed between the rename and its journal line is simply
done again. ``manifest.ecsv`` is
rewritten from the journal at the end of each run.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from itertools import islice
from pathlib import Path

from astropy.table import Table
from tqdm.auto import tqdm

from galgen._warnings import filters_kept
from galgen.batch.inputs import BatchItem
from galgen.batch.journal import (
    JOURNAL,
    make_outdir,
    noise_columns,
    open_journal,
    read_journal,
    write_manifest,
)
from galgen.batch.options import BatchOptions
from galgen.errors import GalgenError

__all__ = ["BatchOptions", "run_batch", "process_items", "read_journal", "local_cluster", "JOURNAL",
           "QUIET_DASK"]

log = logging.getLogger(__name__)


def _model_hash(options: BatchOptions) -> str | None:
    """sha256 of the weights a run uses (read from the model card: no model is built)."""
    from galgen.restoration.methods import method_identity

    return method_identity(options.method, options.scale)[1]


def _load(item: BatchItem, options: BatchOptions):  # noqa: ANN202
    """Read, cut out and prepare one item; returns ``(item, image, prepared)`` or ``(item, exc)``.

    A catalog item is cut from its memory-mapped image as a catalog run cuts it
    (:func:`galgen.batch.mosaic.cut_stamp`): the same stamp, one file per galaxy."""
    from galgen.batch.mosaic import plane_files
    from galgen.io.fits import read_image
    from galgen.io.planes import attach_planes
    from galgen.io.wcs import exposure_position
    from galgen.psf.templates import own_hdu
    from galgen.restoration.engine import prepare_observation
    from galgen.restoration.restorer import FIELD_MIN_SIDE, star_check

    try:
        psf_position = None
        if item.position is not None:
            from astropy.coordinates import SkyCoord

            from galgen.batch.mosaic import cut_stamp, open_mosaic

            mosaic = open_mosaic(item.path, item.hdu, options.pixel_scale,
                                 **plane_files(options, item.path, item.hdu))
            try:
                x, y = mosaic.wcs.world_to_pixel(SkyCoord(*item.position, unit="deg"))
                img = cut_stamp(mosaic, float(x), float(y), item.size)
                psf_position = exposure_position(mosaic.header, float(x), float(y))  # PSFEx evaluated there
            finally:
                mosaic.close()
        else:
            img = read_image(item.path, hdu=item.hdu, pixel_scale=options.pixel_scale,
                             mask_ignore=options.mask_ignore)
            img = attach_planes(img, **plane_files(options, item.path, item.hdu, img.header))
        psf = own_hdu(options.psf, item.path, img.header, item.hdu)
        prep = prepare_observation(img, options.fwhm_for(item.psf_fwhm), psf=psf, noise_rms=options.noise_rms,
                                   moffat_beta=options.moffat_beta, background=options.background,
                                   psf_position=psf_position, psf_angle=options.psf_angle)
        if item.position is None and options.check_psf and min(img.shape) >= FIELD_MIN_SIDE:
            item = replace(item, star_check=star_check(img, prep))  # a field: its own stars
        return item, img, prep
    except Exception as exc:  # noqa: BLE001 - one bad item must not stop the batch
        return item, exc


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, GalgenError):
        return str(exc)
    return f"{type(exc).__name__}: {exc} ({traceback.format_exception(exc)[-2].strip()[:200]})"


def process_items(items: list[BatchItem], options: BatchOptions, outdir: str | os.PathLike,
                  digest: str) -> Iterator[dict]:
    """Restore ``items`` and write their outputs; yields one manifest row per item.

    The model runs on passes of ``stamps_per_pass`` equal-shaped stamps; reading and
    writing happen between passes in this thread, or in background threads while the
    model runs (``BatchOptions.readers``). At most ``2 * stamps_per_pass + readers`` items
    are held in memory, however many are given.
    """
    from galgen.restoration.methods import get_method

    outdir = Path(outdir)
    restorer = get_method(options.method, options.scale, device=options.device, **options.method_options)
    if options.compile:
        restorer.compile()
    readers = options.readers
    pool = ThreadPoolExecutor(readers) if readers else None
    writer = ThreadPoolExecutor(1) if readers else _Inline()
    writes: list = []
    per_pass = options.stamps_per_pass
    if hasattr(restorer, "batch_size"):
        restorer.batch_size = per_pass
    ahead = 2 * per_pass + readers  # items read (or written) ahead of the model: memory stays bounded
    queue = iter(items)
    pending: deque = deque()

    def next_pass() -> list[tuple]:
        if pool is None:
            return [_load(it, options) for it in islice(queue, per_pass)]
        pending.extend(pool.submit(_load, it, options) for it in islice(queue, ahead - len(pending)))
        return [pending.popleft().result() for _ in range(min(per_pass, len(pending)))]

    # several threads may run the libraries' own warnings.catch_warnings at once: filters put back
    with filters_kept(readers > 0):
        try:
            while loaded := next_pass():
                t0 = time.perf_counter()
                good = [x for x in loaded if len(x) == 3]
                for item, exc in (x for x in loaded if len(x) == 2):
                    yield _row(item, outdir, digest, "failed", 0.0, error=_error_text(exc))
                if not good:
                    continue
                try:
                    outs = restorer.restore_batch([p for _, _, p in good], samples=options.samples)
                except Exception as exc:  # noqa: BLE001
                    for item, _, _ in good:
                        yield _row(item, outdir, digest, "failed", 0.0, error=_error_text(exc))
                    continue
                share = (time.perf_counter() - t0) / len(good)
                # finalise and write in the background while the next batch runs through the model
                for (item, img, prep), out in zip(good, outs, strict=True):
                    writes.append(writer.submit(_finish, item, img, prep, out, restorer.scale, options,
                                                outdir, digest, share))
                while writes and (writes[0].done() or len(writes) > ahead):  # bounded: wait for the writer
                    yield writes.pop(0).result()
            for future in writes:
                yield future.result()
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)  # no reader left inside a catch_warnings
            writer.shutdown(wait=True)


class _Inline:
    """An executor that runs each call at once in the caller's thread."""

    def submit(self, fn, *args, **kwargs) -> Future:  # noqa: ANN001, ANN002, ANN003
        future = Future()
        future.set_result(fn(*args, **kwargs))
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


def _finish(item: BatchItem, img, prep, out, scale: int, options: BatchOptions,  # noqa: ANN001
            outdir: Path, digest: str, share: float) -> dict:
    """Finalise one restoration (mask, WCS, header, provenance, chi^2) and write it atomically."""
    from galgen.restoration.engine import finalize
    from galgen.restoration.restorer import write_restored

    t1 = time.perf_counter()
    try:
        result = finalize(img, prep, out, scale=scale, samples=options.samples, psf_check=item.star_check)
        path = outdir / f"{item.key}.fits"
        path.parent.mkdir(parents=True, exist_ok=True)
        if Path(item.path).resolve() == path.resolve():
            raise GalgenError(f"{path}: output would overwrite its input")
        write_restored(result, path, overwrite=True)  # the journal says it is not done
        return _row(item, outdir, digest, "ok", share + time.perf_counter() - t1,
                    chi2=float(result.meta["GALGENX2"]), model=out.method, warning=out.regime_warning,
                    flag=result.meta["GALGENFL"], **noise_columns(result.meta))
    except Exception as exc:  # noqa: BLE001 - one bad item must not stop the batch
        return _row(item, outdir, digest, "failed", share, error=_error_text(exc))


def source_name(path: str, hdu: int | str | None) -> str:
    """``path``, or ``path[hdu]`` for one HDU of it (a chip), as the manifest's ``input``."""
    return path if hdu is None else f"{path}[{hdu}]"


def item_params(digest: str, item: BatchItem) -> str:
    """The journal's ``params`` of an item: the run's digest, and for a catalog cutout its side
    too (a rerun with another side redoes it)."""
    return digest if item.position is None else f"{digest}:{item.size}"


def _row(item: BatchItem, outdir: Path, digest: str, status: str, seconds: float, *,
         chi2: float = float("nan"), model: str = "", error: str = "", warning: str = "",
         flag: str = "", **noise: float) -> dict:
    return {"key": item.key, "input": source_name(item.path, item.hdu),
            "output": str(outdir / f"{item.key}.fits"),
            "status": status, "seconds": round(seconds, 4), "chi2": chi2, "model": model,
            "params": item_params(digest, item), "error": error, "warning": warning, "flag": flag,
            "psf_check": item.star_check.verdict if item.star_check is not None else "",
            **noise_columns(), **noise}


#: Dask settings of galgen's ``LocalCluster``: event-loop health checks once a second (not
#: every 20 ms), host monitoring every 5 s (dashboard plots only), memory limits checked
#: every second (not 0.1 s; galgen's tasks hold a few stamps). Use them for a cluster you
#: start yourself with ``dask.config.set(QUIET_DASK)``.
QUIET_DASK = {"distributed.admin.tick.interval": "1s", "distributed.admin.system-monitor.interval": "5s",
              "distributed.worker.memory.monitor-interval": "1s"}


def local_cluster(workers: int):  # noqa: ANN201 - dask is imported lazily
    """A ``dask.distributed.LocalCluster`` of single-threaded worker processes on loopback.

    What ``run_batch(local_workers=N)`` starts for one run; start it yourself to keep it for
    several runs (pass ``cluster.scheduler_address`` as ``dask_scheduler``; close it after).

    Dask starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (to hand memory back to the
    OS); glibc then serves every large allocation with a fresh ``mmap`` and the network's
    buffers page-fault on each pass: measured on a 2-core VM, two such processes restored 20.7
    stamps/s against 42.5 without it. These workers keep glibc's defaults. (Workers of an
    external cluster: start them with
    ``DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON='{"MALLOC_TRIM_THRESHOLD_": None}'`` in the
    environment; the per-key form of that variable does not work, Dask lower-cases the key.)

    Dask's housekeeping is also slowed down (:data:`QUIET_DASK`): an idle cluster of two
    workers used 116 ms of CPU a second with the defaults (event-loop checks every 20 ms,
    system and memory monitors every 0.5 s and 0.1 s in each process), 7-14 with these; on a
    2-core machine that is 5 % of the CPU the model could have used.
    """
    import dask
    from dask.distributed import LocalCluster

    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                          "distributed.worker.profile.enabled": False, **QUIET_DASK}):
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                            dashboard_address=None)


def _run_chunk(items: list[BatchItem], options: BatchOptions, outdir: str, digest: str) -> list[dict]:
    """What a Dask worker runs: a chunk of items through the in-process engine (the model is
    loaded once per worker process and cached)."""
    with _each_message_once(*_REPEATING_LOGGERS):
        return list(process_items(items, options, outdir, digest))


#: Loggers whose notes concern every item of a batch alike.
_REPEATING_LOGGERS = ("galgen.psf.files", "galgen.restoration.engine")


class _FewRepeats(logging.Filter):
    """Passes each distinct message once, and at most ``limit`` messages of one kind (one format
    string with other values: the same note about different files); the next one of that kind is
    replaced by a line saying that more are not shown."""

    def __init__(self, limit: int = 3) -> None:
        super().__init__()
        self.limit = limit
        self.seen: set[str] = set()
        self.kinds: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        kind = str(record.msg)
        if self.kinds.get(kind, 0) > self.limit:  # decided without keeping the message: memory stays bounded
            return False
        message = record.getMessage()
        if message in self.seen:
            return False
        self.seen.add(message)
        count = self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if count == self.limit + 1:
            record.msg, record.args = ("(more messages like the %d above are not shown in this run; every "
                                       "output's header and HISTORY has its own numbers)"), (self.limit,)
            return True
        return count <= self.limit


@contextmanager
def _each_message_once(*names: str) -> Iterator[None]:
    """Within the block, the loggers ``names`` say each message once and at most three of a kind
    (:class:`_FewRepeats`): the same PSF file read for every item of a batch says "pixel scale
    assumed equal to the image's" once, not once per item, and the note that an item's
    uncertainty plane disagrees with its sky comes for three items, not ten thousand (each
    output's header still records it). Removed on exit: no process-wide state."""
    loggers = [logging.getLogger(name) for name in names]
    few = _FewRepeats()
    for logger in loggers:
        logger.addFilter(few)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(few)


def run_batch(items: list[BatchItem], options: BatchOptions, outdir: str | os.PathLike, *,
              dask_scheduler: str | None = None, local_workers: int = 0, chunk_size: int = 8,
              progress: bool = True, dry_run: bool = False) -> Table:
    """Restore every item into ``outdir``; returns the manifest (one row per item).

    Parameters
    ----------
    items : list of BatchItem
        From :func:`galgen.batch.expand_inputs` or :func:`galgen.batch.catalog_items`.
    options : BatchOptions
    outdir : path
        Output directory (created); outputs mirror the input names.
    dask_scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``): the work is
        chunked by file across its workers (which must see ``outdir``).
    local_workers : int, default 0
        Without a scheduler: ``> 0`` starts a ``dask.distributed.LocalCluster`` of
        that many single-threaded worker processes; ``0`` runs in this process.
    chunk_size : int, default 8
        Items per Dask task.
    dry_run : bool
        Only report what would be done (``status`` "todo" or "skip").

    With ``options.check_psf`` the PSF is checked against the stars of each field, as
    :func:`galgen.restore` and :func:`galgen.batch.run_catalog` do: once per image that catalog
    cutouts are cut from, and for files of at least
    :data:`~galgen.restoration.restorer.FIELD_MIN_SIDE` pixels a side on the file itself
    (manifest column ``psf_check``, ``GALGENPS``/``GALGENPR``, flag ``PSF``).
    """
    outdir = Path(outdir)
    digest = options.digest(_model_hash(options))
    journal = read_journal(outdir)
    done = {it.key for it in items
            if (r := journal.get(it.key)) is not None and r["status"] == "ok"
            and r["params"] == item_params(digest, it) and Path(r["output"]).is_file()}
    todo = [it for it in items if it.key not in done]
    log.info("%d items, %d already done, %d to do", len(items), len(items) - len(todo), len(todo))
    if options.check_psf and not dry_run:
        todo = _with_star_checks(todo, options)
    if dry_run:  # touches nothing: no directory, no clean-up, no model
        return Table(rows=[{"key": it.key, "input": source_name(it.path, it.hdu),
                            "status": "skip" if it.key in done else "todo"}
                           for it in items])
    make_outdir(outdir)
    bar = tqdm(total=len(todo), desc="restore", unit="img", disable=not progress)
    with open_journal(outdir) as record, _each_message_once(*_REPEATING_LOGGERS):
        try:
            if dask_scheduler or local_workers > 0:
                chunks = [todo[i:i + chunk_size] for i in range(0, len(todo), chunk_size)]
                args = (options, str(outdir), digest)
                rows = on_dask(_run_chunk, chunks, args, dask_scheduler, local_workers)
            else:
                rows = process_items(todo, options, outdir, digest)
            for row in rows:
                record(row)
                bar.update(1)
        finally:
            bar.close()
    return write_manifest(outdir, [it.key for it in items], {"psf_check": ""})


def _with_star_checks(items: list[BatchItem], options: BatchOptions) -> list[BatchItem]:
    """Catalog cutouts with the PSF checked against the stars of their image (once per image,
    around that image's cutouts still to restore); files are checked as they are read
    (:func:`_load`)."""
    from astropy.coordinates import SkyCoord

    from galgen.batch.psfcheck import check_image_psf

    checks = {}
    for source in dict.fromkeys((it.path, it.hdu) for it in items if it.position is not None):
        mine = [it for it in items if (it.path, it.hdu) == source and it.position is not None]
        sky = SkyCoord([it.position[0] for it in mine], [it.position[1] for it in mine], unit="deg")
        checks[source] = check_image_psf(*source, options.checking([it.psf_fwhm for it in mine]), sky=sky)
    return [replace(it, star_check=checks[(it.path, it.hdu)]) if it.position is not None else it
            for it in items]


def on_dask(task, chunks: list, args: tuple, dask_scheduler: str | None,  # noqa: ANN001
            local_workers: int) -> Iterator[dict]:
    """Rows of ``task(chunk, *args)`` for every chunk, run on a Dask cluster (the scheduler's, or
    a ``local_cluster`` started and closed here), yielded as chunks finish."""
    from dask.distributed import Client, as_completed

    cluster = None if dask_scheduler else local_cluster(local_workers)
    client = Client(dask_scheduler or cluster)
    try:
        futures = [client.submit(task, c, *args, pure=False) for c in chunks]
        for future in as_completed(futures):
            yield from future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
