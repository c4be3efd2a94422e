"""galgen: GAN-based deconvolution and super-resolution of galaxy images.

Public entry points: :func:`galgen.restore` (FITS in, sharper FITS out),
:mod:`galgen.io`, :mod:`galgen.preprocess`, :mod:`galgen.psf`,
:mod:`galgen.simulate`, :mod:`galgen.metrics` and the generative modules in
:mod:`galgen.models`.

``import galgen`` is cheap: ``restore`` and ``write_restored`` (and the astropy, torch and
GalSim stacks behind them) are imported on first use, so ``galgen --help`` answers at once.
"""

from galgen._version import __version__

__all__ = ["__version__", "restore", "write_restored"]


def __getattr__(name: str):  # noqa: ANN202 - PEP 562 lazy attributes
    if name in ("restore", "write_restored"):
        from galgen.restoration import restorer

        return getattr(restorer, name)
    msg = f"module 'galgen' has no attribute {name!r}"
    raise AttributeError(msg)
