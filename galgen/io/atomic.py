"""Atomic file writing: every file galgen writes appears whole or not at all.

One helper for FITS outputs, tables, figures, weights, checkpoints and caches: the data
go to a uniquely named temporary file in the target's directory, which is renamed over
the target (atomic on POSIX) once complete. The file then gets the permissions a plain
``open(path, "w")`` would give it (``0o666`` less the process umask): ``mkstemp`` creates
its files with mode ``0600``, and the rename would otherwise keep that, leaving outputs
unreadable to collaborators.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_bytes", "default_file_mode", "TEMP_MARK"]

#: In every temporary name (``.<name>.galgen-tmp.<random><suffix>``): what a killed run left
#: behind can be found and removed without touching anything else.
TEMP_MARK = ".galgen-tmp."


def default_file_mode() -> int:
    """The mode ``open()`` gives a new file: ``0o666`` less the current umask.

    The umask can only be read by setting it; it is set straight back (it is
    process-wide, so the two calls are kept next to each other).
    """
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    Parameters
    ----------
    path : str or PathLike
        The file to create or replace. Its directory must exist.
    suffix : str, optional
        Suffix of the temporary name; default ``path``'s own suffix, so that writers
        that choose a format by extension (matplotlib, numpy's ``savez``, astropy
        tables) pick the right one.

    Yields
    ------
    pathlib.Path
        Where to write. If the block raises, the temporary file is removed and
        ``path`` is untouched.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "notes.txt") as tmp:
    ...     _ = tmp.write_text("hello")
    >>> (d / "notes.txt").read_text()
    'hello'
    """
    path = Path(path)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARK}",
                                    suffix=path.suffix if suffix is None else suffix, dir=path.parent)
    except OSError as exc:  # no such directory, not a directory, read-only, disk full
        from galgen.errors import GalgenFileError

        msg = (f"{path}: cannot write there ({exc.strerror}); check that {path.parent} is a directory "
               "you can write to")
        raise GalgenFileError(msg) from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(path: str | os.PathLike, data: bytes | memoryview) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`); returns the path."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        out.write(data)
    return path
