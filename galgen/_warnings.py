"""Thread-safe warning suppression.

``warnings.catch_warnings`` swaps the process-wide filter list, so two threads using it at
once (the batch engine reads files in threads) can restore each other's filters. All of
galgen's suppressions go through :func:`quiet`, which serialises them with one lock; the
libraries' own (astropy, photutils) cannot be, so galgen's threaded sections run inside
:func:`filters_kept`, which puts the filters back when the threads are done.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["filters_kept", "quiet"]

_LOCK = threading.RLock()


@contextmanager
def quiet(*categories: type[Warning]) -> Iterator[None]:
    """Ignore warnings of ``categories`` (all warnings when none are given) inside the block."""
    with _LOCK, warnings.catch_warnings():
        for category in categories or (Warning,):
            warnings.simplefilter("ignore", category)
        yield


@contextmanager
def filters_kept(active: bool = True) -> Iterator[None]:
    """Put the process-wide warning filters back as they were when the block began, whatever the
    threads inside it did to them (``active=False``: a plain block).

    ``warnings.catch_warnings``, which astropy and photutils use inside their own calls (e.g.
    ``Background2D`` ignoring ``AstropyUserWarning``), saves the filter list on entry and puts it
    back on exit; in two threads at once each can put back the other's list. :func:`quiet`'s lock
    orders galgen's own suppressions, not the libraries'. Measured: ``run_batch`` with 2 reader
    threads over 256-pixel fields left ``ignore`` filters for ``Warning`` (every warning),
    ``RuntimeWarning``, ``AstropyUserWarning`` or ``VerifyWarning`` in the caller's process on
    every run. galgen's threaded sections (reader and writer threads of the batch engine) run in
    this block; the threads are done when it ends.

    Inside the block the same race can also drop a library's own suppression while it runs, so
    that a warning it meant to hide is shown (or, under ``-W error``, fails the item): the ones
    seen on galgen's threaded paths, :data:`THREADED_NOISE`, are ignored here for the block.
    """
    if not active:
        yield
        return
    with warnings.catch_warnings():
        for category, message in THREADED_NOISE:
            warnings.filterwarnings("ignore", message, category)
        yield


#: ``(category, message regex)`` of warnings that libraries hide inside their own calls on galgen's
#: threaded paths and that the race above let through: photutils' ``Background2D`` sigma-clips
#: boxes whose masked pixels it set to NaN, and hides astropy's note about them.
THREADED_NOISE: tuple[tuple[type[Warning], str], ...] = (
    (UserWarning, r"Input data contains invalid values \(NaNs or infs\), which were automatically clipped"),
)
