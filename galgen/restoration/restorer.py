"""``galgen.restore``: FITS/astropy in, restored ``CCDData`` with WCS and provenance out."""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.nddata import CCDData

from galgen.errors import GalgenRegimeWarning
from galgen.io.fits import Image, read_image, saturation_level, write_fits
from galgen.io.planes import with_own_planes
from galgen.restoration.engine import PreparedObservation, finalize, prepare_observation
from galgen.restoration.methods import check_samples, get_method

if TYPE_CHECKING:
    from galgen.psf.stars import StarCheck

__all__ = ["restore", "write_restored", "FIELD_MIN_SIDE"]

#: Images at least this many pixels on their shorter side are fields, not stamps: by default
#: :func:`restore` checks the PSF given against their stars (a 512-pixel field holds about ten
#: isolated stars at the densities of ``benchmarks/psf_stars.py``, a 64-pixel stamp none).
FIELD_MIN_SIDE = 512


def _is_stack(image: object) -> bool:
    """An ``(N, H, W)`` array or a list/tuple of images: restored together, batched (an HDUList,
    a list too, is one file's HDUs: one image with its companion planes)."""
    from astropy.io import fits

    if isinstance(image, fits.HDUList):
        return False
    return (isinstance(image, np.ndarray) and image.ndim == 3) or isinstance(image, list | tuple)


def _per_stamp(value: object, n: int, name: str, *, per_stamp_ndim: int = 1) -> list:
    """``value`` for each of ``n`` stamps: a list/tuple (or an array of ``per_stamp_ndim``
    dimensions, a Quantity array) of length ``n``, or one value shared by all."""
    from galgen.errors import GalgenValueError

    sequence = isinstance(value, list | tuple) or (isinstance(value, np.ndarray)
                                                   and value.ndim == per_stamp_ndim)
    if not (sequence or (isinstance(value, u.Quantity) and not value.isscalar)):
        return [value] * n
    if len(value) != n:
        msg = f"{name} has {len(value)} entries for {n} stamps; give one per stamp or one for all"
        raise GalgenValueError(msg)
    return list(value)


def restore(image: object, psf_fwhm: u.Quantity | float | None = None, *, psf: object = None,
            scale: int = 2, method: str = "default", samples: int = 1, seed: int | None = 0,
            hdu: int | str | None = None, plane: int | str | None = None,
            pixel_scale: u.Quantity | float | None = None, noise_rms: float | None = None,
            moffat_beta: float = 3.5, background: float | str = "auto", device: str = "cpu",
            psf_position: tuple[float, float] | None = None, check_psf: bool | None = None,
            noise_map: object = None, noise_map_type: str | None = None, mask: object = None,
            psf_angle: float | None = None, mask_ignore: int | str | None = None,
            **options) -> CCDData | list[CCDData]:
    """Restore (deconvolve and super-resolve) a galaxy image.

    A batch of one through galgen's restoration engine (:mod:`galgen.restoration.engine`):
    the same item gives the same pixels and provenance here, in :func:`galgen.batch.run_batch`
    and in :mod:`galgen.evaluation`.

    Parameters
    ----------
    image : path, HDUList, HDU, CCDData, NDData, Quantity or numpy.ndarray, or a stack of them
        The observation (see :func:`galgen.io.read_image`; an HDUList is one file: one image).
        A stack, an ``(N, H, W)`` array or a list of images of one pixel scale, is restored in
        batches (the natural call for cutouts held in memory) and gives a list of results;
        ``psf``, ``psf_fwhm`` and ``noise_rms`` are then one value for all stamps or one per
        stamp (``None``: each stamp's noise is estimated).
    psf_fwhm : Quantity or float, optional
        Observing PSF FWHM, e.g. ``1.0 * u.arcsec`` or ``4 * u.pix`` (plain floats are
        pixels). Required unless ``psf`` is given.
    psf : numpy.ndarray, path, HDU or galsim.GSObject, optional
        PSF instead of a Moffat profile of ``psf_fwhm``: an array at the observation's
        pixel scale, a FITS image (``"psf.fits"``, or one HDU: ``"stamp.fits[PSF]"``) whose pixel
        scale comes from its WCS or ``PIXSCALE``/``PIXELSCL`` (else assumed equal to the image's,
        with a log message; an SDSS ``SOFTBIAS`` is subtracted), a PSFEx ``.psf`` model
        (evaluated at ``psf_position``) or a GalSim profile in arcsec; normalised here. Its
        FWHM is measured when ``psf_fwhm`` is omitted.
    scale : int, default 2
        Super-resolution factor (1 = deconvolution only).
    method : str, default "default"
        ``"default"`` (the shipped ``default_x<scale>`` model; an error when galgen ships
        none for ``scale``), a shipped model's name, a model directory, or a baseline:
        ``"richardson_lucy"``, ``"wiener"``, ``"bicubic"``.
    samples : int, default 1
        Stochastic samples for an uncertainty map (learned models only; a whole number >= 1, 1
        making none): posterior draws when
        the model ships a posterior sampler (kept as the result's ``draws``), else a noise
        bootstrap (option ``uncertainty="bootstrap"`` forces it).
    seed : int, default 0
        Seed of those samples.
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
    psf_position : (float, float), optional
        ``(x, y)`` of the stamp in the pixels of the exposure a PSFEx model (or SDSS psField) was
        fitted on (1-based, as SExtractor writes them). Default: the image's centre on its
        exposure when its header says where it lies (IRAF ``LTV1``/``LTV2``,
        :func:`galgen.io.wcs.physical_position`), else the model's centre.
    check_psf : bool, optional
        Check the PSF given against the image's own stars
        (:func:`galgen.psf.stars.check_psf_with_stars`, on a region of up to
        :data:`~galgen.psf.stars.PSF_CHECK_SIDE` pixels at the image's centre): the verdict is the
        output's ``GALGENPS`` and a PSF the stars call wrong adds the flag ``PSF``. Default: for
        images of at least :data:`FIELD_MIN_SIDE` pixels a side (a field; a stamp has no stars
        to check with).
    noise_map, mask : path, optional
        The image's noise map and mask in files of their own (``FILE`` or ``FILE[EXT]``; for an
        image given as a path also a template of its name, as ``psf`` takes in batch runs:
        ``"{stem}_invvar.fits"``); see :func:`galgen.io.planes.attach_planes`.
    noise_map_type : {"ivar", "var", "std"}, optional
        What the noise map holds; by default as its ``EXTNAME`` or file name says.
    psf_angle : float, optional
        Degrees to turn ``psf`` by, counter-clockwise as displayed (x right, y up), onto the
        image's pixel axes: a PSF on a detector's axes (STPSF/WebbPSF, TinyTim, a PSFEx model of
        one exposure) for an image resampled onto other axes, such as a north-up drizzled mosaic
        (there, for detector axes of the sky's handedness, the position angle of the detector's y
        axis east of north: HST's ``ORIENTAT`` of the exposure). A PSF file with a celestial WCS is
        turned by its WCS instead (see :func:`galgen.psf.files.read_psf`).
    mask_ignore : int or str, optional
        Bits of an integer mask (the file's own ``DQ``/``MASK`` plane, or ``mask``) that mark usable
        pixels: ``64`` or ``"64,32"`` or ``"0x4000"`` (:func:`galgen.io.masks.mask_bits`). A mask of
        no convention galgen knows (HST ``DQ``, Pan-STARRS1's) counts every bit as bad, which masks
        pixels that hold good data (HST ACS's warm pixels, 64; PS1's ``CONV.POOR``, 0x4000);
        LSST/HSC and JWST masks say which bits are bad and need no help.
    **options
        The method's settings (see :func:`galgen.restoration.get_method`), e.g.
        ``iterations=`` for Richardson-Lucy.

    Returns
    -------
    astropy.nddata.CCDData or list of CCDData
        ``(scale*H, scale*W)`` restored image (a list for a stack), background-subtracted, flux per
        output pixel in the input's unit; WCS at the new pixel scale; masked
        input pixels set to NaN and flagged in ``mask``; ``uncertainty`` when
        the method gives one; a header describing the output (see the output
        reference in the docs) in ``meta``.

    Warns
    -----
    GalgenRegimeWarning
        The input lies outside the learned model's training regime.
    """
    samples = check_samples(samples)
    restorer = get_method(method, scale, device=device, **options)
    stack = _is_stack(image)
    images = list(image) if stack else [image]
    n = len(images)
    if stack and n == 0:
        from galgen.errors import GalgenValueError

        msg = "restore() was given an empty stack of images"
        raise GalgenValueError(msg)
    if not stack:
        psfs, fwhms, noises = [psf], [psf_fwhm], [noise_rms]
    else:  # one value for all stamps, or one per stamp
        psfs = _per_stamp(psf, n, "psf", per_stamp_ndim=3)  # a 2-D array is one PSF for all
        fwhms = _per_stamp(psf_fwhm, n, "psf_fwhm")
        noises = _per_stamp(noise_rms, n, "noise_rms")
    imgs = [read_image(im, hdu=hdu, plane=plane, pixel_scale=pixel_scale, mask_ignore=mask_ignore)
            for im in images]
    if noise_map is not None or mask is not None:
        imgs = [with_own_planes(img, im, noise_map, noise_map_type, mask, hdu, mask_ignore)
                for img, im in zip(imgs, images, strict=True)]
    prepared = [prepare_observation(img, f, psf=p, noise_rms=s_, moffat_beta=moffat_beta,
                                    background=background, psf_position=psf_position, psf_angle=psf_angle)
                for img, f, p, s_ in zip(imgs, fwhms, psfs, noises, strict=True)]
    restorations = restorer.restore_batch(prepared, samples=samples, seed=seed)
    warned = [r.regime_warning for r in restorations if r.regime_warning]
    if warned:
        extra = f" ({len(warned)} of {n} stamps)" if stack else ""
        warnings.warn(warned[0] + extra + _plain_fwhm_hint(warned[0], fwhms, imgs), GalgenRegimeWarning,
                      stacklevel=2)
    checks = [star_check(img, prep)
              if (check_psf if check_psf is not None else min(img.shape) >= FIELD_MIN_SIDE) else None
              for img, prep in zip(imgs, prepared, strict=True)]
    results = [finalize(img, prep, r, scale=restorer.scale, samples=samples, psf_check=c)
               for img, prep, r, c in zip(imgs, prepared, restorations, checks, strict=True)]
    return results if stack else results[0]


def _plain_fwhm_hint(warning: str, fwhms: list, imgs: list[Image]) -> str:
    """A note for a regime warning about the PSF FWHM when ``psf_fwhm`` was a plain number: here
    that is pixels, while the command line and :func:`galgen.translate.translate` read a plain
    number as arcsec, so an astronomer's ``psf_fwhm=1.4`` for SDSS (0.396"/px) is a 0.55" PSF.
    ``""`` otherwise."""
    plain = [f for f in fwhms if f is not None and not isinstance(f, u.Quantity)]
    if "PSF FWHM" not in warning or not plain:
        return ""
    value, scale = float(plain[0]), imgs[0].pixel_scale
    where = f" = {value * scale:.3g} arcsec at this image's {scale:.3g} arcsec/pixel" if scale else ""
    return (f" Note: psf_fwhm={value:g} is a plain number, read as pixels{where}; for arcsec pass "
            f"psf_fwhm={value:g} * u.arcsec.")


def star_check(img: Image, prepared: PreparedObservation) -> StarCheck | None:
    """The PSF an observation is restored with checked against the stars of a central region of
    the image (:func:`galgen.psf.stars.check_psf_with_stars` on the background-subtracted pixels,
    with the PSF kernel, FWHM and noise that :func:`~galgen.restoration.prepare_observation`
    settled: nothing is read or estimated twice); ``None``, logged, when the check cannot run."""
    from galgen.psf.stars import check_region, logged_check

    rows, cols = check_region(img.shape, np.empty((0, 2)))
    data = np.where(prepared.mask, np.nan, prepared.data)[rows, cols]
    level = saturation_level(img.header)  # saturated stars look wider than the PSF: left out
    return logged_check(img.source, data, prepared.psf_fwhm_pix, psf=prepared.psf,
                        pixel_scale=img.pixel_scale, noise_rms=prepared.noise_rms, background=0.0,
                        saturation=None if level is None else level - prepared.background,
                        check_shape=not prepared.psf_model.startswith("moffat"))  # a Moffat is round


def write_restored(result: CCDData, path: str | os.PathLike, *, overwrite: bool = False,
                   write_samples: bool = False) -> None:
    """Write a :func:`restore` result as FITS: image, ``UNCERT`` and ``MASK`` extensions, and with
    ``write_samples`` the posterior draws as a ``SAMPLES`` cube ``(N, sH, sW)`` (same unit and
    celestial WCS; an error when the result has none: ``samples > 1`` with a model that ships a
    posterior sampler)."""
    extensions = {}
    if result.uncertainty is not None:
        extensions["UNCERT"] = np.asarray(result.uncertainty.array)
    if write_samples:
        draws = getattr(result, "draws", None)
        if draws is None:
            from galgen.errors import GalgenValueError

            msg = ("no posterior draws to write: restore with samples > 1 and a model that ships a "
                   "posterior sampler (e.g. --method survey_x2 --samples 16; for an input whose noise "
                   "is correlated, GALGENNF > 1.5, also --uncertainty posterior), or drop --write-samples")
            raise GalgenValueError(msg)
        extensions["SAMPLES"] = draws
    if result.mask is not None and np.any(result.mask):
        extensions["MASK"] = np.asarray(result.mask, bool)
    header = fits.Header(result.meta) if not isinstance(result.meta, fits.Header) else result.meta
    unit = None if result.unit == u.dimensionless_unscaled else result.unit
    write_fits(path, result.data, header=header, wcs=result.wcs, unit=unit,
               extensions=extensions, overwrite=overwrite)
