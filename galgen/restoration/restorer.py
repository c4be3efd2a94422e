"""``galgen.restore``: FITS/astropy in, restored ``CCDData`` with WCS and provenance out."""

from __future__ import annotations

import os
import warnings

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.nddata import CCDData

from galgen.errors import GalgenRegimeWarning
from galgen.io.fits import read_image, write_fits
from galgen.restoration.engine import finalize, get_method, prepare_observation

__all__ = ["restore", "write_restored"]


def restore(image: object, psf_fwhm: u.Quantity | float | None = None, *, psf: object = None,
            scale: int = 2, method: str = "default", samples: int = 1, seed: int | None = 0,
            hdu: int | str | None = None, plane: int | None = None,
            pixel_scale: u.Quantity | float | None = None, noise_rms: float | None = None,
            moffat_beta: float = 3.5, background: float | str = "auto", device: str = "cpu",
            **options) -> CCDData:
    """Restore (deconvolve and super-resolve) a galaxy image.

    A batch of one through galgen's restoration engine (:mod:`galgen.restoration.engine`):
    the same item gives the same pixels and provenance here, in :func:`galgen.batch.run_batch`
    and in :mod:`galgen.evaluation`.

    Parameters
    ----------
    image : path, HDUList, HDU, CCDData, NDData or numpy.ndarray
        The observation (see :func:`galgen.io.read_image`).
    psf_fwhm : Quantity or float, optional
        Observing PSF FWHM, e.g. ``1.0 * u.arcsec`` or ``4 * u.pix`` (plain floats are
        pixels). Required unless ``psf`` is given.
    psf : numpy.ndarray, path or HDU, optional
        PSF image instead of a Moffat profile of ``psf_fwhm``: an array at the observation's
        pixel scale, or a FITS file whose pixel scale comes from its WCS or ``PIXSCALE``
        (else assumed equal to the image's, with a log message); normalised here. Its FWHM is
        measured when ``psf_fwhm`` is omitted.
    scale : int, default 2
        Super-resolution factor (1 = deconvolution only).
    method : str, default "default"
        ``"default"`` (the shipped ``default_x<scale>`` model; an error when galgen ships
        none for ``scale``), a shipped model's name, a model directory, or a baseline:
        ``"richardson_lucy"``, ``"wiener"``, ``"bicubic"``.
    samples : int, default 1
        Stochastic samples for an uncertainty map (learned models only).
    seed : int, default 0
        Seed of those samples' noise draws.
    hdu, plane, pixel_scale
        Passed to :func:`galgen.io.read_image`.
    noise_rms : float, optional
        Background noise (image units); estimated from the image when omitted.
    moffat_beta : float, default 3.5
        Moffat beta of the PSF model (unused with ``psf``).
    background : "auto" or float, default "auto"
        Sky to subtract (see :func:`galgen.restoration.prepare_observation`).
    device : str, default "cpu"
        Torch device of a learned model (baselines run on the CPU).
    **options
        The method's settings (see :func:`galgen.restoration.get_method`), e.g.
        ``iterations=`` for Richardson-Lucy.

    Returns
    -------
    astropy.nddata.CCDData
        ``(scale*H, scale*W)`` restored image, background-subtracted, flux per
        output pixel in the input's unit; WCS at the new pixel scale; masked
        input pixels set to NaN and flagged in ``mask``; ``uncertainty`` when
        the method gives one; a header describing the output (see the output
        reference in the docs) in ``meta``.

    Warns
    -----
    GalgenRegimeWarning
        The input lies outside the learned model's training regime.
    """
    img = read_image(image, hdu=hdu, plane=plane, pixel_scale=pixel_scale)
    restorer = get_method(method, scale, device=device, **options)
    prepared = prepare_observation(img, psf_fwhm, psf=psf, noise_rms=noise_rms, moffat_beta=moffat_beta,
                                   background=background)
    (restoration,) = restorer.restore_batch([prepared], samples=samples, seed=seed)
    if restoration.regime_warning:
        warnings.warn(restoration.regime_warning, GalgenRegimeWarning, stacklevel=2)
    return finalize(img, prepared, restoration, scale=restorer.scale, samples=samples)


def write_restored(result: CCDData, path: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Write a :func:`restore` result as FITS: image, ``UNCERT`` and ``MASK`` extensions."""
    extensions = {}
    if result.uncertainty is not None:
        extensions["UNCERT"] = np.asarray(result.uncertainty.array)
    if result.mask is not None and np.any(result.mask):
        extensions["MASK"] = np.asarray(result.mask, bool)
    header = fits.Header(result.meta) if not isinstance(result.meta, fits.Header) else result.meta
    unit = None if result.unit == u.dimensionless_unscaled else result.unit
    write_fits(path, result.data, header=header, wcs=result.wcs, unit=unit,
               extensions=extensions, overwrite=overwrite)
