"""``galgen.restore``: FITS/astropy in, restored ``CCDData`` with WCS and provenance out."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.nddata import CCDData, StdDevUncertainty

from galgen.errors import GalgenModelError, GalgenPSFError, GalgenValueError
from galgen.io.fits import Image, read_image, write_fits
from galgen.io.provenance import add_provenance
from galgen.io.wcs import resample_wcs
from galgen.preprocess.background import estimate_background
from galgen.preprocess.masks import apply_mask, fill_masked, upsample_mask
from galgen.psf.models import fwhm_in_pixels, moffat_psf
from galgen.restore.baselines import BASELINES

__all__ = ["restore", "prepare_observation", "finalize_result", "write_restored", "RESTORE_METHODS"]

log = logging.getLogger(__name__)

#: name -> core ``f(observation, psf, factor, noise_rms, *, pixel_scale, **options)``
#: returning ``(restored, std or None, info dict)``.
RESTORE_METHODS: dict[str, Callable] = {}


def _baseline_core(name: str) -> Callable:
    def core(observation, psf, factor, noise_rms, *, pixel_scale, **options):  # noqa: ANN001, ANN202
        return BASELINES[name](observation, psf, factor, noise_rms, **options), None, {}

    return core


for _name in BASELINES:
    RESTORE_METHODS[_name] = _baseline_core(_name)


def prepare_observation(image: Image, psf_fwhm: u.Quantity | float, *,
                        noise_rms: float | None = None, moffat_beta: float = 3.5,
                        psf: np.ndarray | None = None,
                        background: float | str = "auto") -> dict:
    """Background-subtract, fill bad pixels and build the PSF for an observation.

    Parameters
    ----------
    image : Image
        From :func:`galgen.io.read_image`.
    psf_fwhm : Quantity or float
        Observing PSF FWHM (angle, or pixels for plain floats).
    noise_rms : float, optional
        Background noise in the image's units; estimated when omitted.
    moffat_beta : float, default 3.5
        Moffat beta of the PSF model (ignored when ``psf`` is given).
    psf : numpy.ndarray, optional
        PSF image at the observation pixel scale, replacing the Moffat model.
    background : "auto" or float, default "auto"
        Sky level to subtract: ``"auto"`` estimates a (source-masked) map;
        a number is subtracted as a constant (``0`` for sky-subtracted data,
        which avoids the small positive bias that galaxy wings give estimates).

    Returns
    -------
    dict
        ``data`` (filled, background-subtracted ``(H, W)``), ``mask``,
        ``background`` (median, image units), ``noise_rms``, ``psf`` (kernel),
        ``psf_fwhm_pix`` and ``psf_fwhm_arcsec``.
    """
    fwhm_pix = fwhm_in_pixels(psf_fwhm, image.pixel_scale)
    h, w = image.shape
    if fwhm_pix >= min(h, w) / 2:
        msg = (
            f"{image.source}: PSF FWHM of {fwhm_pix:.3g} pixels is more than half the "
            f"{h}x{w} image; check the FWHM's unit (arcsec vs pixels) or use a larger cutout"
        )
        raise GalgenPSFError(msg)
    if background == "auto" or noise_rms is None:
        bkg = estimate_background(image.data, image.mask)
    if noise_rms is None:
        noise_rms = bkg.median_rms
    if background == "auto":
        sky, sky_median = bkg.background, bkg.median
    else:
        sky = sky_median = float(background)
    if not np.isfinite(noise_rms) or noise_rms <= 0:
        msg = f"{image.source}: noise level {noise_rms} is not > 0; give noise_rms= explicitly"
        raise GalgenValueError(msg)
    data, mask = fill_masked(image.data - sky, image.mask)
    if psf is None:
        size = min(int(np.ceil(12 * fwhm_pix)) | 1, (min(h, w) - 1) | 1)
        psf = moffat_psf(fwhm_pix, size, beta=moffat_beta)
    return {"data": data, "mask": mask, "background": sky_median, "noise_rms": float(noise_rms),
            "psf": psf, "psf_fwhm_pix": fwhm_pix,
            "psf_fwhm_arcsec": fwhm_pix * image.pixel_scale}


def restore(image: object, psf_fwhm: u.Quantity | float, *, scale: int = 2,
            method: str = "default", samples: int = 1, hdu: int | str | None = None,
            plane: int | None = None, pixel_scale: u.Quantity | float | None = None,
            noise_rms: float | None = None, moffat_beta: float = 3.5,
            background: float | str = "auto", **options) -> CCDData:
    """Restore (deconvolve and super-resolve) a galaxy image.

    Parameters
    ----------
    image : path, HDUList, HDU, CCDData, NDData or numpy.ndarray
        The observation (see :func:`galgen.io.read_image`).
    psf_fwhm : Quantity or float
        Observing PSF FWHM, e.g. ``1.0 * u.arcsec`` (plain floats are pixels).
    scale : int, default 2
        Super-resolution factor (1 = deconvolution only).
    method : str, default "default"
        ``"default"`` (the shipped ``default_x<scale>`` model, or Richardson-Lucy
        when none is installed), a shipped model's name, a model directory, or a
        baseline: ``"richardson_lucy"``, ``"wiener"``, ``"bicubic"``.
    samples : int, default 1
        Stochastic samples for an uncertainty map (learned models only).
    hdu, plane, pixel_scale
        Passed to :func:`galgen.io.read_image`.
    noise_rms : float, optional
        Background noise (image units); estimated from the image when omitted.
    moffat_beta : float, default 3.5
        Moffat beta of the PSF model.
    background : "auto" or float, default "auto"
        Sky to subtract (see :func:`prepare_observation`).
    **options
        Passed to the method (e.g. ``iterations=`` for Richardson-Lucy).

    Returns
    -------
    astropy.nddata.CCDData
        ``(scale*H, scale*W)`` restored image, background-subtracted, flux per
        output pixel in the input's unit; WCS at the new pixel scale; masked
        input pixels set to NaN and flagged in ``mask``; ``uncertainty`` when
        the method gives one; provenance in ``meta``.
    """
    img = read_image(image, hdu=hdu, plane=plane, pixel_scale=pixel_scale)
    if int(scale) != scale or scale < 1:
        msg = f"scale must be a positive integer, got {scale}"
        raise GalgenValueError(msg)
    scale = int(scale)
    name, core = _resolve_method(method, scale, options.get("device"))
    prep = prepare_observation(img, psf_fwhm, noise_rms=noise_rms, moffat_beta=moffat_beta,
                               background=background)
    kwargs = dict(options)
    if name not in BASELINES:
        kwargs.update(samples=samples, psf_fwhm=prep["psf_fwhm_arcsec"])
    restored, std, info = core(prep["data"], prep["psf"], scale, prep["noise_rms"],
                               pixel_scale=img.pixel_scale, **kwargs)
    params = {"moffat_beta": moffat_beta, "samples": samples}
    params.update({k: v for k, v in options.items() if np.isscalar(v)})
    return finalize_result(img, prep, restored, std, info, name=name, scale=scale, params=params)


def finalize_result(img: Image, prep: dict, restored: np.ndarray, std: np.ndarray | None, info: dict,
                    *, name: str, scale: int, params: dict | None = None) -> CCDData:
    """Mask, WCS, provenance and data consistency around a core's output: the ``CCDData`` that
    :func:`restore` returns (also used by the batch engine, which runs cores on batches).

    The header gets ``GALGENX2``: the reduced chi^2 of the restored image, re-convolved
    with the PSF and binned, against the observation (expect ~1; see
    :func:`galgen.metrics.data_consistency`).
    """
    from galgen.metrics.consistency import data_consistency

    big_mask = upsample_mask(prep["mask"], scale)
    chi2, _ = data_consistency(restored, np.where(prep["mask"], 0.0, prep["data"]), prep["noise_rms"],
                               prep["psf_fwhm_arcsec"], img.pixel_scale / scale, scale,
                               target_psf_fwhm=float(info.get("target_psf_fwhm", 0.0)),
                               predicted=info.get("reconvolved"))
    restored = apply_mask(restored, big_mask)
    header = img.header.copy() if img.header is not None else fits.Header()
    record = {"method": name, "scale": scale, "psf_fwhm_arcsec": round(prep["psf_fwhm_arcsec"], 4),
              "noise_rms": f"{prep['noise_rms']:.6g}",
              "background_subtracted": f"{prep['background']:.6g}", "input": img.source}
    record.update(params or {})
    record.update({k: v for k, v in info.items()
                   if k not in ("model_name", "model_hash", "reconvolved") and v != ""})
    add_provenance(header, "restore", record, model_name=info.get("model_name", name),
                   model_hash=info.get("model_hash"))
    header["GALGENBG"] = (prep["background"], "median background subtracted (input units)")
    header["GALGENNS"] = (prep["noise_rms"], "input background noise rms (input units)")
    header["GALGENX2"] = (chi2, "data consistency: reduced chi2 vs observation")
    wcs = resample_wcs(img.wcs, scale) if img.wcs is not None else None
    if wcs is None:
        header["PIXSCALE"] = (img.pixel_scale / scale, "[arcsec] pixel scale of this image")
    return CCDData(restored, unit=img.unit if img.unit is not None else u.dimensionless_unscaled,
                   wcs=wcs, mask=big_mask,
                   uncertainty=None if std is None else StdDevUncertainty(std), meta=header)


def _resolve_method(method: str, scale: int, device: str | None) -> tuple[str, Callable]:
    """``(name, core)`` of a baseline, a shipped model or a model directory."""
    from galgen.restore.model import load_model, shipped_models

    if method in RESTORE_METHODS:
        return method, RESTORE_METHODS[method]
    if method == "default":
        method = f"default_x{scale}"
        if method not in shipped_models():
            log.warning("no shipped model for x%d: using Richardson-Lucy", scale)
            return "richardson_lucy", RESTORE_METHODS["richardson_lucy"]
    try:
        model = load_model(method, device or "cpu")
    except GalgenModelError:
        msg = (f"unknown restoration method {method!r}; choose 'default', a baseline "
               f"({', '.join(sorted(RESTORE_METHODS))}), a shipped model "
               f"({', '.join(sorted(shipped_models())) or 'none installed'}) or a model directory")
        raise GalgenValueError(msg) from None
    return model.name, model


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
