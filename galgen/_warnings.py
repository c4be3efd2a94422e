"""Thread-safe warning suppression.

``warnings.catch_warnings`` swaps the process-wide filter list, so two threads using it at
once (the batch engine reads files in threads) can restore each other's filters. All of
galgen's suppressions go through :func:`quiet`, which serialises them with one lock.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["quiet"]

_LOCK = threading.RLock()


@contextmanager
def quiet(*categories: type[Warning]) -> Iterator[None]:
    """Ignore warnings of ``categories`` (all warnings when none are given) inside the block."""
    with _LOCK, warnings.catch_warnings():
        for category in categories or (Warning,):
            warnings.simplefilter("ignore", category)
        yield
