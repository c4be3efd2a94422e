"""Physical survey-to-survey translation: what a worse survey would have seen of the same sky.

Three steps, each done by the library that does it well:

1. **PSF matching** at the input's pixel scale: a kernel ``K`` with ``P_source * K = P_target``
   (a Gaussian of FWHM ``sqrt(target^2 - source^2)`` when both PSFs are Gaussian, else
   ``photutils.psf_matching.create_matching_kernel`` with a split-cosine-bell window);
2. **flux-conserving resampling** onto the target survey's grid with
   ``reproject.reproject_exact`` (exact pixel overlaps; values scaled by the pixel-area ratio so
   that flux per pixel stays flux per pixel and totals are kept). A target PSF given as an
   *image* is taken as the survey's effective PSF, which already includes its pixel response
   (as PSFEx models and survey PSF images do): the matched image is then sampled at the target
   pixel centres (``reproject_interp``, bicubic) instead of integrated over them;
3. optional **noise** up to the target's background rms (Gaussian, seeded): white, or with the
   correlation between pixels measured on a real image of the target survey
   (``to_noise_like``, :func:`galgen.preprocess.estimate_noise_correlation`), as coadds and
   drizzled images have it.

The output covers the same sky, carries a WCS at the target scale and a header whose
``PSFFWHM`` is the target PSF's.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.nddata import CCDData

from galgen.errors import GalgenPSFError, GalgenValueError, GalgenWCSError
from galgen.io.fits import Image, read_image
from galgen.io.provenance import add_provenance, pop_input_descriptors
from galgen.io.units import is_surface_brightness, require_linear_unit
from galgen.io.wcs import move_physical, resample_wcs, simple_tan_wcs

if TYPE_CHECKING:
    from galgen.preprocess import NoiseCorrelation

__all__ = ["matching_kernel", "translate"]

log = logging.getLogger(__name__)


_ANY_SIZE = (10**6, 10**6)  # a PSF for matching may be as large as it likes


def _on_grid(kernel: np.ndarray | None, fwhm: float, pixel_scale: float, size: int) -> np.ndarray:
    """A ``size x size`` PSF at ``pixel_scale``: a Gaussian of ``fwhm`` arcsec, or ``kernel``
    recentred, cropped or padded (GalSim interpolation at the same scale)."""
    from galgen.psf.models import gaussian_psf, psf_from_image

    if kernel is None:
        return gaussian_psf(fwhm / pixel_scale, size)
    return psf_from_image(kernel, pixel_scale=1.0, target_pixel_scale=1.0, shape=size)


def matching_kernel(pixel_scale: float, source_fwhm: float | None, target_fwhm: float | None, *,
                    source_psf: object = None, target_psf: object = None,
                    allow_sharpen: bool = False) -> tuple[np.ndarray, float, float]:
    """Kernel ``K`` (unit sum, odd side, at ``pixel_scale``) with ``P_source * K = P_target``.

    Parameters
    ----------
    pixel_scale : float
        Arcsec per pixel of the image the kernel will be applied to.
    source_fwhm, target_fwhm : float, optional
        Gaussian PSF FWHMs, arcsec (used when the matching PSF image is not given).
    source_psf, target_psf : array, path or HDU, optional
        PSF images (at ``pixel_scale`` for arrays; FITS files carry their own scale).
    allow_sharpen : bool, default False
        Permit a target narrower than the source (a deconvolution; usually a mistake).

    Returns
    -------
    kernel : numpy.ndarray
    source_fwhm, target_fwhm : float
        The two PSFs' FWHMs, arcsec (measured for images).

    Raises
    ------
    GalgenPSFError
        A PSF missing, or a target narrower than the source (use ``galgen restore`` for that).
    """
    from galgen.psf.files import read_psf
    from galgen.psf.models import gaussian_psf, measure_fwhm

    src = read_psf(source_psf, _ANY_SIZE, pixel_scale).kernel if source_psf is not None else None
    tgt = read_psf(target_psf, _ANY_SIZE, pixel_scale).kernel if target_psf is not None else None
    # undersampled PSF images (Euclid VIS, HST at native sampling) get a fitted FWHM
    s_fwhm = measure_fwhm(src, pixel_scale, method="fit") if src is not None else source_fwhm
    t_fwhm = measure_fwhm(tgt, pixel_scale, method="fit") if tgt is not None else target_fwhm
    if s_fwhm is None or t_fwhm is None:
        msg = "give the source and the target PSF (a FWHM or an image) for a translation"
        raise GalgenPSFError(msg)
    if t_fwhm < s_fwhm and not allow_sharpen:
        msg = (f"the target PSF ({t_fwhm:.3g}\") is narrower than the source's ({s_fwhm:.3g}\"): a "
               "translation can only blur; to sharpen an image use 'galgen restore' (or --allow-sharpen)")
        raise GalgenPSFError(msg)
    if src is None and tgt is None:  # Gaussians: widths add in quadrature
        width = float(np.sqrt(max(t_fwhm**2 - s_fwhm**2, 0.0))) / pixel_scale
        size = max(15, int(np.ceil(8 * width)) | 1)
        kernel = np.ones((1, 1)) if width < 1e-3 else gaussian_psf(width, size)
        return kernel, float(s_fwhm), float(t_fwhm)
    from photutils.psf_matching import SplitCosineBellWindow
    from photutils.psf_matching import make_kernel as create_matching_kernel

    size = max(31, int(np.ceil(6 * t_fwhm / pixel_scale)) | 1)
    kernel = create_matching_kernel(_on_grid(src, s_fwhm, pixel_scale, size),
                                    _on_grid(tgt, t_fwhm, pixel_scale, size),
                                    window=SplitCosineBellWindow(alpha=0.4, beta=0.3))
    return kernel / kernel.sum(), float(s_fwhm), float(t_fwhm)


#: The fewest output pixels a side a translation may write: fewer hold no resolved source and
#: no sky to measure the noise on (a target pixel as large as the image is a unit mistake).
MIN_OUTPUT_SIDE = 4


def _check_target(img: Image, out_scale: float, fwhms: dict[str, float | None]) -> None:
    """Refuse a target no survey has: PSFs wider than half the image (the rule of ``galgen
    restore``: the light would leave the stamp, and a kernel that size would not fit in memory)
    and target pixels so large that the output has fewer than :data:`MIN_OUTPUT_SIDE` a side."""
    h, w = img.shape
    for which, fwhm in fwhms.items():
        if fwhm is not None and fwhm / img.pixel_scale >= min(h, w) / 2:
            msg = (f"{img.source}: the {which} PSF FWHM ({fwhm:.4g}\", {fwhm / img.pixel_scale:.3g} input "
                   f"pixels) is more than half the {h}x{w} image; check its unit (arcsec vs pixels, arcsec "
                   "vs deg) or use a larger cutout")
            raise GalgenPSFError(msg)
    side = int(np.floor(min(h, w) * img.pixel_scale / out_scale))
    if side < MIN_OUTPUT_SIDE:
        msg = (f"{img.source}: target pixels of {out_scale:.4g}\" would cover the {h}x{w} image "
               f"({h * img.pixel_scale:.4g}\" x {w * img.pixel_scale:.4g}\") with {side} pixel(s) a side "
               f"(at least {MIN_OUTPUT_SIDE} needed); check the scale's unit or use a larger cutout")
        raise GalgenValueError(msg)


def translate(image: object, source_fwhm: u.Quantity | float | None, *, to_pixel_scale: u.Quantity | float,
              to_psf_fwhm: u.Quantity | float | None = None, source_psf: object = None, to_psf: object = None,
              to_noise_rms: float | None = None, rng: np.random.Generator | None = None,
              allow_sharpen: bool = False, hdu: int | str | None = None,
              pixel_scale: u.Quantity | float | None = None, to_noise_like: object = None,
              psf_angle: float | None = None, to_psf_angle: float | None = None) -> CCDData:
    """Translate an image to a worse survey: matched PSF, the target's pixels, its noise.

    Parameters
    ----------
    image : path, HDU, CCDData, NDData or numpy.ndarray
        The sharper image (see :func:`galgen.io.read_image`; arrays need ``pixel_scale``).
    source_fwhm : Quantity or float, optional
        Its PSF FWHM (an angle; a plain float is arcsec here, as in the target's values);
        omitted when ``source_psf`` is given.
    to_pixel_scale : Quantity or float
        Target pixel scale (angle per pixel, or arcsec).
    to_psf_fwhm : Quantity or float, optional
        Target PSF FWHM (Gaussian), arcsec; or give ``to_psf``.
    source_psf, to_psf : array, path or HDU, optional
        PSF images instead of Gaussians, read as :func:`galgen.restore` reads its ``psf``
        (:func:`galgen.psf.files.read_psf`): turned onto the image's axes when a file's celestial
        WCS says it lies otherwise; a PSFEx model or SDSS psField as ``source_psf`` evaluated at
        the image's centre on its exposure (IRAF ``LTV1``/``LTV2``), in its band (``FILTER``).
    psf_angle : float, optional
        Degrees to turn ``source_psf`` by (counter-clockwise, x right, y up) onto the image's
        axes: a PSF on a detector's axes for an image on other axes, as in :func:`galgen.restore`.
    to_psf_angle : float, optional
        The same for ``to_psf``: degrees to turn the target survey's PSF by onto the image's axes
        (the output keeps them), e.g. a PSF model on that survey's detector axes.
    to_noise_rms : float, optional
        Background rms per *output* pixel to reach (input units); Gaussian noise is added on top
        of what the resampled image already has (white unless ``to_noise_like``).
    to_noise_like : path, HDU, CCDData, NDData, numpy.ndarray or NoiseCorrelation, optional
        An image of the target survey at its pixel scale (or its measured
        :class:`galgen.preprocess.NoiseCorrelation`): the added noise gets the correlation
        between pixels measured on its source-free background, and, when ``to_noise_rms`` is
        omitted, its background rms (then in the reference image's units, which must be the
        input's). An image whose pixel scale (from its WCS or ``PIXSCALE``) is not the target's
        is an error: a correlation is per pixel.
    rng : numpy.random.Generator, optional
        Source of that noise (default: seed 0).
    allow_sharpen : bool, default False
        See :func:`matching_kernel`.

    Returns
    -------
    astropy.nddata.CCDData
        Flux per output pixel in the input's unit (totals conserved), WCS at the target scale,
        ``PSFFWHM`` the target PSF's FWHM, provenance in ``meta``. An input in surface-brightness
        units (per solid angle, e.g. ``MJy/sr``: :func:`galgen.io.units.is_surface_brightness`)
        stays surface brightness (its total times the pixel area is conserved).

    Raises
    ------
    GalgenValueError
        Every pixel NaN, target pixels smaller than the input's or so large that the output
        would have fewer than :data:`MIN_OUTPUT_SIDE` pixels a side, a logarithmic unit (magnitudes), a
        target noise that is not a positive number.
    GalgenPSFError
        A source or target PSF wider than half the image, or a target narrower than the source.
    """
    from reproject import reproject_exact

    from galgen.io.fits import as_pixel_scale
    from galgen.psf.files import require_psf_to_turn
    from galgen.psf.kernels import convolve_psf
    from galgen.psf.models import as_fwhm_quantity

    img: Image = read_image(image, hdu=hdu, pixel_scale=pixel_scale)
    require_linear_unit(img.unit, img.source)
    if not np.any(np.isfinite(img.data)):
        msg = f"{img.source}: every pixel is NaN; nothing to translate"
        raise GalgenValueError(msg)
    out_scale = as_pixel_scale(to_pixel_scale)
    arcsec = u.pixel_scale(img.pixel_scale * u.arcsec / u.pix)

    def _arcsec(value: u.Quantity | float | None) -> float | None:
        if value is None:
            return None
        q = value if isinstance(value, u.Quantity) else float(value) * u.arcsec
        return float(as_fwhm_quantity(q).to_value(u.arcsec, arcsec))

    s_fwhm, t_fwhm = _arcsec(source_fwhm), _arcsec(to_psf_fwhm)
    if out_scale < img.pixel_scale * (1 - 1e-6) and not allow_sharpen:
        msg = (f"target pixels ({out_scale:.4g}\") are smaller than the input's ({img.pixel_scale:.4g}\"): a "
               "translation only coarsens; use 'galgen restore' for finer pixels")
        raise GalgenValueError(msg)
    _check_target(img, out_scale, {"source": s_fwhm, "target": t_fwhm})
    if to_noise_rms is not None and not (np.isfinite(to_noise_rms) and to_noise_rms > 0):
        msg = (f"to_noise_rms={to_noise_rms!r}: the target noise must be a positive rms per output pixel "
               "in the input's units (CLI: --to-noise-rms); leave it out to add no noise")
        raise GalgenValueError(msg)
    correlation = None  # checked before the resampling: a bad reference costs nothing
    if to_noise_like is not None:
        correlation, reference_rms = _noise_like(to_noise_like, out_scale)
        to_noise_rms = reference_rms if to_noise_rms is None else to_noise_rms
        if to_noise_rms is None:
            msg = "to_noise_like as a NoiseCorrelation carries no noise level: give to_noise_rms too"
            raise GalgenValueError(msg)
    require_psf_to_turn(psf_angle, source_psf, given_as="source_psf=",
                        shortcut="a Gaussian of the source FWHM")
    require_psf_to_turn(to_psf_angle, to_psf, given_as="to_psf=", shortcut="a Gaussian of the target FWHM",
                        name="to_psf_angle")
    src, tgt = _psfs_for(img, source_psf, to_psf, psf_angle, to_psf_angle)
    kernel, s_fwhm, t_fwhm = matching_kernel(img.pixel_scale, s_fwhm, t_fwhm, source_psf=src,
                                             target_psf=tgt, allow_sharpen=allow_sharpen)
    _check_target(img, out_scale, {"source": s_fwhm, "target": t_fwhm})  # as measured on PSF images
    filled = np.where(img.mask, 0.0, img.data)
    blurred = convolve_psf(filled, kernel) if kernel.size > 1 else filled
    wcs_in = img.wcs if img.wcs is not None else simple_tan_wcs(img.shape, img.pixel_scale)
    factor = img.pixel_scale / out_scale
    shape_out = (max(1, int(np.floor(img.shape[0] * factor))), max(1, int(np.floor(img.shape[1] * factor))))
    wcs_out = resample_wcs(wcs_in, factor)
    if to_psf is None:  # an optical PSF: the target's pixels integrate the image (exact overlaps)
        data, footprint = reproject_exact((blurred, wcs_in), wcs_out, shape_out=shape_out)
    else:  # a PSF image already holds the target's pixel response: sample it at the pixel centres
        from reproject import reproject_interp

        data, footprint = reproject_interp((blurred, wcs_in), wcs_out, shape_out=shape_out, order="bicubic")
    data = np.where(footprint > 0, data, np.nan)  # reproject keeps surface brightness ...
    if not is_surface_brightness(img.unit):
        data /= factor**2  # ... and flux per pixel grows with the pixel's area
    if to_noise_rms is not None:
        from galgen.preprocess.background import estimate_background

        have = estimate_background(np.nan_to_num(data)).median_rms
        extra = float(np.sqrt(max(to_noise_rms**2 - have**2, 0.0)))
        if extra == 0.0:
            log.warning("%s: the translated image's noise (%.3g) already exceeds --to-noise-rms %.3g; "
                        "none added", img.source, have, to_noise_rms)
        rng = rng or np.random.default_rng(0)
        data = data + (rng.normal(0.0, extra, data.shape) if correlation is None
                       else correlation.draw(data.shape, extra, rng))
    header = img.header.copy() if img.header is not None else fits.Header()
    move_physical(header, scale=factor)  # a cutout's place on its exposure, on the new grid (as the WCS)
    carried = pop_input_descriptors(header)  # the input's PSF/noise keywords: into HISTORY
    record = {"input": img.source, "source_psf_fwhm": round(s_fwhm, 4),
              "source_psf": "gaussian" if source_psf is None else str(source_psf) + _turned_note(psf_angle),
              "target_psf_fwhm": round(t_fwhm, 4),
              "target_psf": "gaussian" if to_psf is None else str(to_psf) + _turned_note(to_psf_angle),
              "target_pixel_scale": out_scale, "noise_rms": to_noise_rms,
              **({"noise_correlation_factor": round(correlation.sum_factor, 3)} if correlation else {}),
              **{f"input {k}": v for k, v in carried}}
    add_provenance(header, "translate", record)
    header["PSFFWHM"] = (round(t_fwhm, 5), "[arcsec] PSF FWHM of this (translated) image")
    return CCDData(data, unit=img.unit if img.unit is not None else u.dimensionless_unscaled, wcs=wcs_out,
                   meta=header)


def _turned_note(angle: object) -> str:
    """Provenance of a PSF turned by ``--psf-angle`` or ``--to-psf-angle`` (``""`` when not, an
    angle that turns nothing included), read as the PSF reader reads it
    (:func:`galgen.psf.files.check_angle`)."""
    from galgen.psf.files import check_angle

    turn = check_angle(angle, "psf_angle")
    return "" if turn is None else f" (turned by {turn:g} deg)"


def _psfs_for(img: Image, source_psf: object, to_psf: object, angle: float | None,
              to_angle: float | None = None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The source and target PSF kernels at the image's pixels and on its axes (``None`` where not
    given). The source PSF is the image's own, read as :func:`galgen.psf.files.read_psf_for`
    reads a restoration's, but of any size; the target's is a survey's, turned by its WCS or by
    ``to_angle``."""
    from galgen.psf.files import read_psf, read_psf_for

    src = tgt = None
    if source_psf is not None:
        src = read_psf_for(source_psf, img, angle=angle, shape=_ANY_SIZE).kernel
    if to_psf is not None:
        tgt = read_psf(to_psf, _ANY_SIZE, img.pixel_scale, image_wcs=img.wcs, angle=to_angle).kernel
    return src, tgt


def _noise_like(reference: object, out_scale: float) -> tuple[NoiseCorrelation, float | None]:
    """The noise correlation (and background rms, ``None`` for a given correlation) of a
    reference image of the target survey, checked to be at the target's pixel scale."""
    from galgen.preprocess import NoiseCorrelation, estimate_noise_correlation
    from galgen.preprocess.background import estimate_background

    if isinstance(reference, NoiseCorrelation):
        return reference, None
    try:
        ref = read_image(reference)
    except GalgenWCSError:  # no WCS, no PIXSCALE: taken to be at the target's pixels, as stated
        ref = read_image(reference, pixel_scale=out_scale)
    if abs(ref.pixel_scale / out_scale - 1) > 0.02:
        msg = (f"{ref.source}: its pixels are {ref.pixel_scale:.4g}\", the target's {out_scale:.4g}\"; "
               "a noise correlation is per pixel: give an image of the target survey at its own pixel "
               "scale (or drop --to-noise-like)")
        raise GalgenValueError(msg)
    background = estimate_background(ref.data, ref.mask)
    data = np.where(ref.mask, np.nan, ref.data - background.background)
    return estimate_noise_correlation(data, ref.mask, sources=background.sources), background.median_rms

