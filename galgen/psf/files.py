"""PSFs given as data: a FITS image (or an array) checked, normalised and brought to an image's pixels."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from galgen.errors import GalgenPSFError
from galgen.io.hdus import first_table_columns, split_extension  # split_extension: kept importable here

__all__ = ["PSFImage", "read_psf", "read_psf_for", "psf_hash", "split_extension"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PSFImage:
    """A PSF ready for an observation.

    Attributes
    ----------
    kernel : numpy.ndarray
        ``(h, w)`` float64, odd sides, sum 1, at the observation's pixel scale.
    source : str
        Where it came from (file name or ``<array>``), for messages and provenance.
    pixel_scale : float
        Pixel scale the PSF file had (arcsec), before any resampling.
    note : str
        How its pixel scale was found (``"WCS"``, a keyword of :data:`galgen.io.fits.SCALE_KEYWORDS`
        such as ``"PIXSCALE"`` or STPSF's ``"PIXELSCL"``, ``"assumed equal to the image's"``).
    """

    kernel: np.ndarray
    source: str
    pixel_scale: float
    note: str


def psf_hash(kernel: np.ndarray) -> str:
    """First 16 hex digits of the sha256 of a kernel's float64 bytes (recorded in outputs)."""
    return hashlib.sha256(np.ascontiguousarray(kernel, dtype=np.float64).tobytes()).hexdigest()[:16]


def read_psf(source: object, image_shape: tuple[int, int], image_pixel_scale: float, *,
             hdu: int | str | None = None, position: tuple[float, float] | None = None,
             image_wcs: object = None, band: str | None = None, angle: float | None = None) -> PSFImage:
    """Read a PSF image (or a PSFEx model, or a GalSim profile) and bring it to an observation's
    pixels.

    Parameters
    ----------
    source : path, HDU, HDUList, numpy.ndarray or galsim.GSObject
        A 2-D PSF image (a path may name one HDU: ``"file.fits[PSF]"``, ``"file.fits[1]"``): its
        pixel scale comes from its celestial WCS, else a ``PIXSCALE`` (or STPSF/WebbPSF's
        ``PIXELSCL``, IRAF's ``SECPIX``) keyword in arcsec, else it is assumed equal to the
        image's (and the log says so).
        A PSFEx ``.psf`` model (a FITS table with ``PSF_MASK``) is evaluated at ``position``
        (:func:`galgen.psf.psfex.psfex_kernel`); an SDSS ``psField`` file is reconstructed for
        its band at ``position`` (:func:`galgen.psf.sdss.psfield_kernel`). A GalSim profile (in
        arcsec, without the pixel) is drawn at the image's pixel scale, pixel response included.
    image_shape : (int, int)
        ``(H, W)`` of the observation it is for.
    image_pixel_scale : float
        The observation's pixel scale, arcsec.
    hdu : int or str, optional
        HDU of a FITS file (default: the first holding an image).
    position : (float, float), optional
        For a PSFEx model or a psField file: ``(x, y)`` of the stamp in the exposure's (frame's)
        pixels (1-based); default the model's (frame's) centre.
    image_wcs : astropy.wcs.WCS, optional
        The observation's celestial WCS. When the PSF file has a celestial WCS too and its axes
        are turned or mirrored against the image's (a star or a stack of stars cut from another
        exposure, or from a mosaic on other axes), the PSF is turned and mirrored onto the image's
        pixel axes (:func:`_to_image_axes`), as the sky says. A file without a celestial WCS
        (STPSF/WebbPSF, TinyTim: the detector's frame) is taken as on the image's axes.
    band : str, optional
        The image's band (its ``FILTER`` keyword): which band of a psField file to use when the
        file name does not say (``psField.fit[r]``).
    angle : float, optional
        Degrees by which to turn the PSF onto the image's pixel axes, counter-clockwise as both are
        displayed (x right, y up, as ds9 shows them). For a PSF on a detector's axes used on an
        image on other axes: an STPSF/WebbPSF or TinyTim PSF (no celestial WCS) on a drizzled
        mosaic, a PSFEx model of one exposure on a coadd turned against it. For a north-up,
        east-left mosaic it is the position angle of the detector's y axis east of north (HST's
        ``ORIENTAT`` of the exposure), when the detector's axes have the sky's handedness. A PSF
        file with a celestial WCS is turned by its WCS instead (an error with ``angle``, when the
        image has one too). ``None`` or 0: as it is.

    Returns
    -------
    PSFImage

    Raises
    ------
    GalgenPSFError
        Not 2-D, NaN or infinite pixels, no positive total (all zero or negative), its
        brightest pixel far from its light's centre (a kernel in FFT order, two stars), or
        larger than the image; an angle that is not a finite number, or given for a PSF whose WCS
        sets its axes; each message names the file and says what to do.
    """
    from galgen.io.fits import read_image
    from galgen.psf.models import psf_from_image

    name = str(source) if isinstance(source, str | os.PathLike) else f"<{type(source).__name__}>"
    angle = check_angle(angle, name)
    if isinstance(source, str | os.PathLike) and hdu is None and not Path(source).is_file():
        source, hdu = split_extension(source)
    if isinstance(source, str | os.PathLike) and not Path(source).is_file():
        msg = f"{name}: no such PSF file; check the path"
        raise GalgenPSFError(msg)
    raw = source
    scale, note, psf_wcs = None, "assumed equal to the image's", None
    from galgen.psf.psfex import is_psfex, psfex_kernel
    from galgen.psf.sdss import is_psfield, psfield_kernel

    if isinstance(source, np.ndarray):  # arrays are documented to be at the image's pixel scale
        scale, note = image_pixel_scale, "array at the image's scale"
    elif is_psfex(source, columns := first_table_columns(source)):  # fitted on the exposure: its pixels
        raw, note = psfex_kernel(source, position)
        scale = image_pixel_scale
    elif is_psfield(source, columns):  # the frame's own pixels, like PSFEx
        band = hdu if hdu is not None else band if isinstance(band, str) else None
        raw, note = psfield_kernel(source, band, position)
        raw, scale = _crop_to(raw, image_shape, name), image_pixel_scale
    elif _is_galsim_profile(source):
        name = f"<{type(source).__name__} profile>"
        if angle:  # turned as a profile, before it is drawn: no interpolation
            import galsim

            note = f"GalSim; turned by {angle:.1f} deg"
            source, angle = source.rotate(angle * galsim.degrees), None
        else:
            note = "GalSim"
        raw, scale = _draw_profile(source, image_shape, image_pixel_scale), image_pixel_scale
    else:
        from galgen.errors import GalgenValueError, GalgenWCSError

        try:
            try:
                image = read_image(source, hdu=hdu)
                scale, note = image.pixel_scale, "WCS" if image.wcs is not None else _keyword(image.header)
                psf_wcs = image.wcs
            except GalgenWCSError:  # no WCS, no PIXSCALE: the image's scale, said below
                image = read_image(source, hdu=hdu, pixel_scale=image_pixel_scale)
        except GalgenValueError as exc:
            if "cube" in str(exc) or "dimensions" in str(exc):
                what = str(exc).split(";")[0]  # not its hint: --plane picks a plane of the image
                msg = (f"{name}: the PSF is not a 2-D image ({what}); give a 2-D PSF image (write the plane "
                       "you want to its own FITS file, or FILE[EXT] for an HDU that holds one)")
            else:  # the image reader's hint names hdu=; a PSF's HDU is chosen in its name
                hint = ("Name the PSF's HDU as FILE[EXT] (--psf psf.fits[1], psf='psf.fits[PSF]'), "
                        "or '[EXT]' for each input's own")
                msg = f"PSF {exc}".replace("Pick one with hdu=", hint)
            raise GalgenPSFError(msg) from None
        raw = image.data
        softbias = image.header.get("SOFTBIAS")
        if isinstance(softbias, int | float) and not isinstance(softbias, bool) and softbias != 0:
            raw = raw - float(softbias)  # SDSS read_PSF adds SOFTBIAS (1000) to every pixel
            note += f"; SOFTBIAS {softbias:g} subtracted"
            log.info("%s: SOFTBIAS = %g subtracted (SDSS read_PSF convention)", name, softbias)
    array = np.asarray(raw, dtype=np.float64)
    if array.ndim != 2:
        msg = f"{name}: the PSF has {array.ndim} dimensions {array.shape}; give a 2-D PSF image"
        raise GalgenPSFError(msg)
    if not np.all(np.isfinite(array)):
        msg = (f"{name}: the PSF has {int(np.sum(~np.isfinite(array)))} NaN or infinite pixels; "
               "give a complete PSF image")
        raise GalgenPSFError(msg)
    if not isinstance(source, np.ndarray):  # arrays: galgen's own kernels passed on, or the user's
        _check_pedestal(array, name)
    total = float(array.sum())
    if not total > 0 or not array.max() > 0:
        msg = (f"{name}: the PSF's total is {total:.3g} (it must be positive: is it all zero, "
               "background-dominated or the wrong HDU?)")
        raise GalgenPSFError(msg)
    _check_peak(array, name)
    if scale is None:
        scale = image_pixel_scale
        log.warning("%s: PSF pixel scale unknown (no WCS, no PIXSCALE/PIXELSCL): assumed equal to the "
                    "image's, %.4g arcsec", name, image_pixel_scale)
    extent = np.array(array.shape) * scale / image_pixel_scale  # the PSF's size in image pixels
    if np.any(extent > np.array(image_shape)):
        msg = (f"{name}: the PSF ({array.shape[0]}x{array.shape[1]} pixels of {scale:.4g}\") is larger "
               f"than the {image_shape[0]}x{image_shape[1]} image; crop it to its core or use a larger "
               "cutout")
        raise GalgenPSFError(msg)
    turn = _axes_matrix(psf_wcs, image_wcs)
    if angle:
        if psf_wcs is not None and image_wcs is not None:
            msg = (f"{name}: the PSF file has a celestial WCS, which already sets how it lies on the image "
                   f"(turned by the two WCSs); leave out the angle ({angle:g} deg), or give a PSF without a "
                   "celestial WCS (its scale as PIXSCALE)")
            raise GalgenPSFError(msg)
        turn = _turn_matrix(angle) * (scale / image_pixel_scale)
    if turn is not None:
        kernel, how = _to_image_axes(array, turn, image_shape)
        note += f"; {how}"
        if np.linalg.det(turn) < 0:  # rarer than a turn: say so where a placeholder WCS would be noticed
            log.warning("%s: the PSF's WCS has the other handedness than the image's, so the PSF was %s. "
                        "If its WCS only states the pixel scale (a placeholder), give that as PIXSCALE "
                        "instead of CTYPE/CD keywords", name, how)
        else:
            log.info("%s: %s", name, how)
    elif abs(scale / image_pixel_scale - 1) > 1e-3:
        kernel = psf_from_image(array, pixel_scale=scale, target_pixel_scale=image_pixel_scale)
    else:
        kernel = array / total
        if kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:  # recentre onto an odd grid
            kernel = psf_from_image(array, pixel_scale=scale, target_pixel_scale=scale,
                                    shape=(kernel.shape[0] | 1, kernel.shape[1] | 1))
        else:
            kernel = _whole_pixels_to_centre(kernel)
    return PSFImage(kernel=kernel, source=name, pixel_scale=float(scale), note=note)


def read_psf_for(source: object, image: object, position: tuple[float, float] | None = None,
                 angle: float | None = None, shape: tuple[int, int] | None = None) -> PSFImage:
    """:func:`read_psf` for an :class:`galgen.io.Image`: its shape, pixel scale, WCS and band
    (``FILTER``). A PSF model of the exposure (PSFEx, psField) is evaluated at ``position``, by
    default the image's centre on its exposure when its header says where it lies (IRAF
    ``LTV1``/``LTV2``: :func:`galgen.io.wcs.centre_on_exposure`), else the model's centre. The PSF
    is turned by ``angle`` degrees (counter-clockwise) onto the image's axes, as :func:`read_psf`
    says. ``shape`` replaces the image's as the size the PSF may have (a translation's matching
    kernel may be larger than the image)."""
    from galgen.io.wcs import centre_on_exposure

    if position is None:
        position = centre_on_exposure(image.header, image.shape)
    return read_psf(source, shape or image.shape, image.pixel_scale, position=position, image_wcs=image.wcs,
                    band=image.header.get("FILTER"), angle=angle)


#: A PSF image's light centroid this many pixels or more from its middle pixel (on either axis) is
#: a mis-centred cutout, moved by whole pixels; aberrated PSFs drawn centred lie up to 1.34 pixels
#: off (300 held-out benchmark PSFs of the zoo) and are left as they are.
MISCENTRED = 1.5


def _whole_pixels_to_centre(kernel: np.ndarray) -> np.ndarray:
    """Move an odd PSF image whose light lies :data:`MISCENTRED` pixels or more off its middle
    pixel by whole pixels, to within half a pixel (exact: no interpolation, which widens a PSF of
    2-3 pixels by 5-15 %).

    Every method convolves with the kernel as centred on its middle pixel: a star cut a few pixels
    off-centre shifted the classical restorations by as much (Richardson-Lucy with a PSF 3 pixels
    off: chi^2 1.82, flag CHI2HIGH) while the networks, which recentre their input's PSF, did not.
    Light pushed past the edge is dropped and the kernel renormalised.
    """
    from galgen.psf.models import light_centroid

    h, w = kernel.shape
    offset = light_centroid(kernel) - (np.array([w, h]) - 1) / 2
    if np.all(np.abs(offset) < MISCENTRED):
        return kernel
    dx, dy = np.round(offset).astype(int)
    padded = np.pad(kernel, ((abs(dy), abs(dy)), (abs(dx), abs(dx))))
    moved = padded[abs(dy) + dy:abs(dy) + dy + h, abs(dx) + dx:abs(dx) + dx + w]
    return moved / moved.sum()


#: Largest departure (of any element) of the PSF-to-image pixel matrix, divided by its scale, from
#: the identity under which the PSF's axes count as the image's: 0.01, a turn of 0.6 degrees.
AXES_TOLERANCE = 0.01


def _axes_matrix(psf_wcs: object, image_wcs: object) -> np.ndarray | None:
    """The 2 x 2 matrix taking offsets in the PSF's pixels to offsets in the image's (``[[dx/dx',
    dx/dy'], [dy/dx', dy/dy']]``, from the two WCSs' pixel-to-sky matrices at their reference
    points), or ``None`` when either WCS is missing or the axes agree but for the scale (which
    :func:`galgen.psf.models.psf_from_image` handles)."""
    if psf_wcs is None or image_wcs is None:
        return None
    try:
        matrix = np.linalg.solve(image_wcs.celestial.pixel_scale_matrix, psf_wcs.celestial.pixel_scale_matrix)
    except (AttributeError, np.linalg.LinAlgError, ValueError):
        return None
    size = float(np.sqrt(abs(np.linalg.det(matrix))))
    if not np.all(np.isfinite(matrix)) or size <= 0:
        return None
    return None if np.max(np.abs(matrix / size - np.eye(2))) <= AXES_TOLERANCE else matrix


def check_angle(angle: object, name: str) -> float | None:
    """``angle`` (degrees) as a float, ``None`` for none or 0; a typed error if not a finite number."""
    if angle is None:
        return None
    try:
        value = float(angle)
    except (TypeError, ValueError):
        value = float("nan")
    if isinstance(angle, bool) or not np.isfinite(value):
        msg = f"{name}: the PSF's angle {angle!r} is not a finite number of degrees"
        raise GalgenPSFError(msg)
    value = (value + 180.0) % 360.0 - 180.0  # -180 <= value < 180
    return value if value != 0 else None


def require_psf_to_turn(angle: object, psf: object, where: str = "", given_as: str = "psf=",
                        shortcut: str = "the Moffat made from a FWHM", name: str = "psf_angle") -> None:
    """A typed error for an angle (``--psf-angle``, any value) given without a PSF image or model
    to turn (``psf`` is ``None``): the profile made from a FWHM instead is round. ``where`` prefixes
    the message (``"file.fits: "``); ``name`` is the angle's keyword (``to_psf_angle``: the options
    named in the message follow it, ``--to-psf-angle`` and ``--to-psf``)."""
    if angle is not None and psf is None:
        option = "--" + name.replace("_", "-")
        msg = (f"{where}{name}={angle!r} ({option}) turns a PSF image or model given as {given_as} "
               f"({option.removesuffix('-angle')}); {shortcut} is round: leave it out")
        raise GalgenPSFError(msg)


def _turn_matrix(angle: float) -> np.ndarray:
    """Counter-clockwise turn by ``angle`` degrees (x right, y up) as a PSF-to-image pixel matrix."""
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    return np.array([[c, -s], [s, c]])


def _to_image_axes(array: np.ndarray, matrix: np.ndarray,
                   image_shape: tuple[int, int]) -> tuple[np.ndarray, str]:
    """Turn (and mirror, and rescale) a PSF image onto the image's pixel axes with GalSim.

    The PSF is recentred on its light, interpolated (GalSim's quintic kernel), transformed by
    ``matrix`` (PSF pixels to image pixels) and drawn on an odd grid of the same angular extent
    (at most the image's size) without another pixel response (the image already has one), then
    normalised. Returns the kernel and a note such as ``"turned by 90.0 deg to the image's axes"``.
    """
    import galsim

    from galgen.psf.models import light_centroid

    interp = galsim.InterpolatedImage(galsim.Image(array, scale=1.0), calculate_stepk=False,
                                      calculate_maxk=False)
    cx, cy = light_centroid(array) - (np.array(array.shape[::-1]) - 1) / 2
    profile = interp.shift(-cx, -cy).transform(*matrix.ravel())
    size = float(np.sqrt(abs(np.linalg.det(matrix))))
    n = int(round(max(array.shape) * size)) | 1
    n = max(5, min(n, (min(image_shape) - 1) | 1 if min(image_shape) % 2 == 0 else min(image_shape)))
    kernel = profile.drawImage(nx=n, ny=n, scale=1.0, method="no_pixel").array.astype(np.float64)
    kernel /= kernel.sum()
    mirrored = np.linalg.det(matrix) < 0
    # with a mirror, the turn that follows flipping the PSF's x axis
    m = matrix @ np.diag([-1.0, 1.0]) if mirrored else matrix
    angle = float(np.degrees(np.arctan2(m[1, 0], m[0, 0])))
    parts = [f"turned by {angle:.1f} deg"] if abs(angle) >= 0.05 else []
    parts += ["mirrored"] if mirrored else []
    how = f"{' and '.join(parts) or 'rescaled'} to the image's axes"
    return kernel, how


def _check_peak(array: np.ndarray, name: str) -> None:
    """Refuse a PSF whose brightest pixel lies on its image's edge or far from its light's centre.

    A PSF is recentred on its light's centroid before use, so one a few pixels off its array's
    centre is fine. But a kernel in FFT order (its peak wrapped into a corner, as ``numpy.fft``
    code writes them), two stars, or a background-dominated image is not one PSF, and a stamp
    restored with it comes out wrong with an unremarkable chi^2, so it is an error. Limits, set
    on 1,500 draws of the PSF zoo (both aberration sets, |e| up to 0.2, FWHM 2-10 pixels, cut to
    2.5 FWHM-64 pixels, offset up to 1.5 pixels, a third with noise): their peaks lay at most 0.29
    of the smaller side (0.78 FWHM, strongly aberrated Kolmogorov x optics) from the centroid and,
    on images of 7 pixels or more, at least 1 pixel from the edge. Refused: more than 0.4 of the
    smaller side (and 3 pixels) from the centroid, or on the outermost row or column of an image
    of 7 pixels or more. An FFT-ordered PSF fails both (peak at (0, 0), 18 pixels from the
    centroid on 31 x 31).
    """
    from galgen.psf.models import light_centroid

    h, w = array.shape
    peak = np.array(np.unravel_index(int(np.argmax(array)), array.shape)[::-1], dtype=float)
    centre = light_centroid(array)
    offset = float(np.hypot(*(peak - centre)))
    edge = min(peak[0], w - 1 - peak[0], peak[1], h - 1 - peak[1])
    if offset > max(3.0, 0.4 * min(h, w)) or (edge == 0 and min(h, w) >= 7):
        msg = (f"{name}: the PSF's brightest pixel (x, y) = ({peak[0]:.0f}, {peak[1]:.0f}) of {w}x{h} lies "
               f"{edge:.0f} pixels from the edge and {offset:.1f} from the centre of its light "
               f"({centre[0]:.1f}, {centre[1]:.1f}): it is not one PSF with its wings around it. A kernel "
               "in FFT order (peak in a corner) needs numpy.fft.fftshift; otherwise cut a cutout centred on "
               "one clean, isolated star")
        raise GalgenPSFError(msg)


#: Median of a PSF image's outermost pixels, as a fraction of its peak, above which a *flat* border
#: (corners as bright as the edges' midpoints) is taken for a background: a pedestal such as SDSS's
#: SOFTBIAS of 1000 under a peak of a few thousand is 0.1-0.5 and flat; real wings fall off towards
#: the corners (measured on GalSim PSF-zoo draws cropped to 3 FWHM: up to 0.10 of the peak at the
#: edges, corners at ~(sqrt 2)^-3.7 of the midpoints; at 6 FWHM below 0.01).
PEDESTAL_LIMIT = 0.02


def _crop_to(kernel: np.ndarray, image_shape: tuple[int, int], name: str) -> np.ndarray:
    """A model's kernel (odd-sided, centred) cut to the largest odd size that fits the image: the
    51 x 51 SDSS templates are mostly empty wings, and a 40-pixel stamp is a common cutout. The
    light left out is logged."""
    side = min(kernel.shape[0], *(s if s % 2 else s - 1 for s in image_shape))
    if side >= kernel.shape[0]:
        return kernel
    cut = (kernel.shape[0] - side) // 2
    inner = kernel[cut:cut + side, cut:cut + side]
    log.info("%s: PSF model cut from %d to %d pixels to fit the image; %.2f %% of its light lay outside",
             name, kernel.shape[0], side, 100 * (1 - inner.sum() / kernel.sum()))
    return inner


def _check_pedestal(array: np.ndarray, name: str) -> None:
    """Log a warning when the PSF's border looks like a background (a warning, not an error: a PSF
    cropped to 2.5-3 FWHM can look the same; 36 of 640 zoo draws cropped to 2.5-6 FWHM did, all at
    2.5-3 FWHM)."""
    if min(array.shape) < 7 or not array.max() > 0:
        return
    border = np.concatenate([array[0], array[-1], array[1:-1, 0], array[1:-1, -1]])
    level = float(np.median(border))
    h, w = array.shape
    corners = np.mean([array[:2, :2], array[:2, -2:], array[-2:, :2], array[-2:, -2:]])
    cy, cx = h // 2, w // 2
    middles = np.mean([array[0, cx - 1:cx + 2], array[-1, cx - 1:cx + 2], array[cy - 1:cy + 2, 0],
                       array[cy - 1:cy + 2, -1]])
    flat = middles > 0 and corners >= 0.7 * middles
    if abs(level) > PEDESTAL_LIMIT * float(array.max()) and (flat or level < 0):
        log.warning("%s: the PSF's edge pixels sit at %.4g, %.0f%% of its peak, as high in the corners as "
                    "mid-edge: a background under the PSF (SDSS read_PSF output adds SOFTBIAS = 1000, which "
                    "galgen subtracts when the header says SOFTBIAS), or a PSF cut inside its wings. Its "
                    "FWHM and the restoration will be wrong: subtract the background or give a larger PSF "
                    "image", name, level, 100 * abs(level) / array.max())


def _keyword(header) -> str:  # noqa: ANN001
    from galgen.io.fits import header_scale_keyword

    found = header_scale_keyword(header)
    return "PIXSCALE" if found is None else found[1]


def _is_galsim_profile(source: object) -> bool:
    import sys

    galsim = sys.modules.get("galsim")  # a profile can only exist if galsim was imported
    return galsim is not None and isinstance(source, galsim.GSObject)


def _draw_profile(profile, image_shape: tuple[int, int], pixel_scale: float) -> np.ndarray:  # noqa: ANN001
    """A GalSim PSF (arcsec) drawn at ``pixel_scale`` with the pixel response, on an odd grid
    of about 8 FWHM (at most the image's size)."""
    from galgen.psf.models import measure_fwhm

    limit = (min(image_shape) - 1) | 1 if min(image_shape) % 2 == 0 else min(image_shape)
    n = min(limit, 65)
    image = profile.drawImage(nx=n, ny=n, scale=pixel_scale).array.astype(np.float64)
    try:
        fwhm = measure_fwhm(image / image.sum())
        n = min(limit, max(15, int(np.ceil(8 * fwhm)) | 1))
    except GalgenPSFError:
        return image
    return profile.drawImage(nx=n, ny=n, scale=pixel_scale).array.astype(np.float64)
