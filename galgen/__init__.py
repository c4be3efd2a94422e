"""galgen: GAN-based deconvolution and super-resolution of galaxy images.

Public entry points: :func:`galgen.restore` (FITS in, sharper FITS out),
:mod:`galgen.io`, :mod:`galgen.preprocess`, :mod:`galgen.psf`,
:mod:`galgen.simulate`, :mod:`galgen.metrics` and the generative modules in
:mod:`galgen.models`.
"""

from galgen._version import __version__
from galgen.restoration.restorer import restore, write_restored

__all__ = ["__version__", "restore", "write_restored"]
