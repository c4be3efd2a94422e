"""A batch run's record on disk: the journal written as items finish, the manifest made from it.

Each finished item appends one JSON line to ``<outdir>/.galgen_journal.jsonl``, flushed to the
operating system at once (a killed run loses no line) and synced to disk at most once a second
and at the end (against power cuts); a rerun reads the latest line of each item to skip what is
done. ``manifest.ecsv`` is rewritten from the journal at the end of each run, atomically.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from astropy.table import Table

from galgen.errors import GalgenFileError
from galgen.io.atomic import TEMP_MARK, atomic_path

__all__ = ["JOURNAL", "read_journal", "open_journal", "write_manifest", "make_outdir", "noise_columns"]

#: The journal's file name in the output directory.
JOURNAL = ".galgen_journal.jsonl"


def read_journal(outdir: str | os.PathLike) -> dict[str, dict]:
    """Latest journal row per item key (a truncated last line is ignored)."""
    path = Path(outdir) / JOURNAL
    rows: dict[str, dict] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a kill
            rows[row["key"]] = row
    return rows


@contextmanager
def open_journal(outdir: Path) -> Iterator:
    """``record(row)``: append a row to the run's journal (after removing a killed run's temporary
    files). Each line is flushed to the OS (a killed run loses none), synced to disk at most once
    a second and at the end (against power cuts)."""
    for stale in outdir.rglob(f".*{TEMP_MARK}*"):  # temporary files of a killed run
        stale.unlink()
    journal = open(outdir / JOURNAL, "a")  # noqa: SIM115 - kept open for the whole run
    last_sync = time.monotonic()

    def record(row: dict) -> None:
        nonlocal last_sync
        journal.write(json.dumps(row) + "\n")
        journal.flush()
        if time.monotonic() - last_sync > 1.0:
            os.fsync(journal.fileno())
            last_sync = time.monotonic()

    try:
        yield record
    finally:
        journal.flush()
        os.fsync(journal.fileno())
        journal.close()


def write_manifest(outdir: Path, keys: list[str], defaults: dict | None = None,
                    extra: Table | None = None) -> Table:
    """``manifest.ecsv`` (atomically): the journal's latest row for each of ``keys``, in order,
    then the rows of ``extra`` (with the columns of the journal's)."""
    rows = read_journal(outdir)
    # journals of older galgen versions lack the newer columns
    base = {"warning": "", "flag": "", **noise_columns(), **(defaults or {})}
    table = Table(rows=[{**base, **rows[k]} for k in keys if k in rows])
    if extra is not None and len(extra):
        from astropy.table import vstack

        table = vstack([table, extra], join_type="outer") if len(table) else extra
    if len(table):
        table["seconds"].unit = "s"
    with atomic_path(outdir / "manifest.ecsv") as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)
    return table


def noise_columns(meta: object = None) -> dict:
    """The manifest's noise columns from an output's header (NaN without one, a failed item):
    ``noise_rms`` (``GALGENNS``), ``noise_plane`` (``GALGENNV``, NaN without an uncertainty plane)
    and ``noise_factor`` (``GALGENNF``)."""
    meta = meta if meta is not None else {}
    cards = (("noise_rms", "GALGENNS"), ("noise_plane", "GALGENNV"), ("noise_factor", "GALGENNF"))
    return {key: float(meta.get(card, float("nan"))) for key, card in cards}


def make_outdir(outdir: Path) -> None:
    """Create the output directory (and its parents), or say why it cannot be one."""
    if outdir.exists() and not outdir.is_dir():
        msg = f"{outdir}: is a file, not a directory; give an output directory (-o DIR)"
        raise GalgenFileError(msg)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"{outdir}: cannot create the output directory ({exc.strerror})"
        raise GalgenFileError(msg) from None
