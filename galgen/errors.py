"""Typed exceptions raised by galgen.

Every message says what is wrong and what to do about it. Catch ``GalgenError``
to handle any galgen failure; the subclasses also derive from the matching
built-in exception so generic handlers keep working.
"""

__all__ = [
    "GalgenError",
    "GalgenValueError",
    "GalgenFileError",
    "GalgenWCSError",
    "GalgenPSFError",
    "GalgenModelError",
    "GalgenRegimeWarning",
]


class GalgenError(Exception):
    """Base class of every error raised by galgen."""


class GalgenValueError(GalgenError, ValueError):
    """An argument or image has a value galgen cannot work with."""


class GalgenFileError(GalgenError, OSError):
    """A file is missing, unreadable, not FITS, or would be overwritten."""


class GalgenWCSError(GalgenValueError):
    """No usable WCS / pixel scale, or one that galgen cannot resample."""


class GalgenPSFError(GalgenValueError):
    """A PSF specification is impossible (FWHM <= 0, larger than the stamp, ...)."""


class GalgenModelError(GalgenError, RuntimeError):
    """A model's weights or card are missing, corrupt or do not match."""


class GalgenRegimeWarning(UserWarning):
    """Input lies outside the regime a model was trained on."""
