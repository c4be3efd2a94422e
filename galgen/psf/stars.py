"""Is the PSF a user gives the PSF of the field? A check against the field's own stars.

One galaxy stamp cannot tell a wrong PSF: a galaxy a little smaller seen through a wider PSF
explains its pixels as well (docs/benchmarks.md, "Hallucination flag"), so a restoration
through a PSF 30 % too wide or too narrow passes its chi^2 and its residual-structure test on
most stamps. The field around it can: its stars are images of the PSF itself. This module
finds the point sources of a field image and compares their size with the PSF's, both measured
the same way (GalSim's adaptive moments, :func:`galsim.hsm.FindAdaptiveMom`, on the same pixel
grid, so the pixel response cancels).

Stars are told from galaxies by size alone: a galaxy seen through the PSF is never narrower
than the PSF, so the stars are the narrowest sources of the field. The check takes the
narrowest group of at least ``min_stars`` sources of nearly one size (the stellar locus) and
reports the median ratio of their size to the PSF's; a group whose sizes scatter more than
images of one PSF do (``max_scatter``) is galaxies, and gets no verdict. Its blind spot: a
field with fewer stars than ``min_stars`` but several compact galaxies of nearly one size
takes the galaxies for stars.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import astropy.units as u
import numpy as np

from galgen._warnings import quiet

__all__ = ["PSF_CHECK_SIDE", "StarCheck", "check_psf_with_stars", "check_region", "logged_check"]

log = logging.getLogger(__name__)

#: Side (input pixels) of the region whose stars are checked. At 0.2-0.4"/px it is 7-14' on a
#: side: at high galactic latitude that holds tens of isolated stars bright enough (peak SNR >= 30)
#: where a 400-pixel field often holds fewer than five (docs/benchmarks.md, "The PSF checked against
#: the field's stars": no verdict on 22-78 % of such fields; on 1024-pixel fields of the same
#: density, a verdict on all 90). Larger regions cost more (find_peaks and one adaptive-moment fit
#: per isolated peak; measured on one core of the CPU VM for 2048 x 2048 pixels: 0.3 s with the
#: noise given, 2.8 s when photutils estimates background and noise, 1.15 s on 1920 x 1920 since
#: galgen resizes photutils' background meshes itself) and reach parts of the image where a PSF
#: model may differ.
PSF_CHECK_SIDE = 2048


def check_region(shape: tuple[int, int], positions: np.ndarray,
                 side: int = PSF_CHECK_SIDE) -> tuple[slice, slice]:
    """The ``(rows, columns)`` slices of a ``side`` x ``side`` region of an image of ``shape``
    centred on the median of ``positions`` (``(N, 2)`` 0-based ``(x, y)`` pixels), moved inside the
    image, and the whole image when it is smaller.

    Examples
    --------
    >>> check_region((5000, 300), np.array([[10.0, 4900.0], [20.0, 4990.0]]), side=1000)
    (slice(4000, 5000, None), slice(0, 300, None))
    """
    starts = []
    for axis, n in ((1, shape[0]), (0, shape[1])):  # rows follow y, columns x
        size = min(side, n)
        centre = float(np.median(positions[:, axis])) if len(positions) else (n - 1) / 2
        starts.append((int(np.clip(round(centre - size / 2), 0, n - size)), size))
    (y0, ny), (x0, nx) = starts
    return slice(y0, y0 + ny), slice(x0, x0 + nx)


@dataclass(frozen=True)
class StarCheck:
    """What :func:`check_psf_with_stars` found.

    Attributes
    ----------
    ratio : float
        Median adaptive-moment size of the field's stars over that of the PSF given
        (dimensionless; NaN with fewer than ``min_stars`` stars). 1 for the right PSF; < 1 when
        the PSF given is too wide, > 1 when it is too narrow.
    scatter : float
        Robust scatter (1.4826 MAD) of the stars' ratios.
    n_stars : int
        Stars the ratio rests on.
    positions : numpy.ndarray
        ``(n_stars, 2)`` float, ``(x, y)`` 0-based pixel centroids of those stars.
    verdict : str
        ``"OK"``, ``"PSF_TOO_WIDE"``, ``"PSF_TOO_NARROW"`` (``|ratio - 1|`` > the tolerance),
        ``"PSF_SHAPE"`` (the right size, but the stars' shape differs from the PSF's: see
        ``star_shape``) or ``"NO_STARS"`` (too few isolated, unsaturated point sources of one size
        to say).
    psf_sigma_pix : float
        Adaptive-moment sigma of the PSF given, in pixels.
    star_shape, psf_shape : (float, float)
        Adaptive-moment ellipticity ``(e1, e2)`` (distortion, ``(a^2 - b^2) / (a^2 + b^2)``,
        ``e1`` along x, ``e2`` at 45 degrees counter-clockwise) of the stars (median) and of the
        PSF given; NaN when not measured (a Moffat made from a FWHM, an undersampled PSF, no
        stars).
    """

    ratio: float
    scatter: float
    n_stars: int
    positions: np.ndarray = field(repr=False)
    verdict: str
    psf_sigma_pix: float
    star_shape: tuple[float, float] = (float("nan"), float("nan"))
    psf_shape: tuple[float, float] = (float("nan"), float("nan"))

    @property
    def turn(self) -> float:
        """Degrees (counter-clockwise, in (-90, 90]) by which the PSF turned would have the stars'
        orientation: the ``--psf-angle`` to add when it lies on other axes (NaN when either is
        round to 0.02, where no orientation can be read, or not measured)."""
        es, ep = np.hypot(*self.star_shape), np.hypot(*self.psf_shape)
        if not (es >= ROUND and ep >= ROUND):
            return float("nan")
        angle = _orientation(*self.star_shape) - _orientation(*self.psf_shape)
        return float(90.0 - (90.0 - angle) % 180.0)

    def message(self) -> str:
        """One line for a user: the verdict and what to do."""
        if self.verdict == "NO_STARS":
            if np.isfinite(self.ratio):
                return (f"no stars: the {self.n_stars} narrowest sources differ in size (scatter "
                        f"{self.scatter:.3f}), as galaxies do; use a field with stars")
            return (f"only {self.n_stars} isolated point source(s) of one size found: too few to check the "
                    "PSF; use a larger field (or galgen psfcheck with a lower --snr-min)")
        what = (f"the field's {self.n_stars} stars are {self.ratio:.3f} times the size of the PSF given "
                f"(scatter {self.scatter:.3f})")
        if self.verdict == "OK":
            return f"OK: {what}"
        if self.verdict == "PSF_SHAPE":
            (e1s, e2s), (e1p, e2p) = self.star_shape, self.psf_shape
            turned = (f"; turned by {self.turn:+.0f} deg it would lie as they do (a PSF on other axes than "
                      "the image's: add that to --psf-angle)" if np.isfinite(self.turn)
                      and abs(np.hypot(e1s, e2s) - np.hypot(e1p, e2p)) < 0.5 * np.hypot(e1s, e2s) else "")
            return (f"PSF_SHAPE: {what}, but their shape, e = {np.hypot(e1s, e2s):.3f} at "
                    f"{_orientation(e1s, e2s):.0f} deg, differs from the PSF's, e = {np.hypot(e1p, e2p):.3f} "
                    f"at {_orientation(e1p, e2p):.0f} deg (counter-clockwise from x){turned}. Restoring "
                    "through it would put the difference into the galaxies")
        side = "too wide" if self.verdict == "PSF_TOO_WIDE" else "too narrow"
        return (f"{self.verdict}: {what}: the PSF given is {side}; restoring through it deconvolves "
                f"{'too much' if side == 'too wide' else 'too little'}. Measure the PSF from these stars "
                "(or give the survey's PSF model for this exposure) before restoring")


#: Ellipticity (distortion) below which a PSF or the stars count as round: no orientation to read.
ROUND = 0.02

#: Ellipticity difference between the stars and a PSF of the right size above which the PSF's
#: shape is called wrong (``PSF_SHAPE``; also more than 5 standard errors of the stars' median).
#: With the true PSF image the difference read 0.0002-0.004 (12 simulated fields, Moffat, sheared
#: Moffat and Kolmogorov x optics PSFs of 3-6 pixels, 6-10 stars of peak SNR 60-2000); a PSF
#: model off in shape by a few hundredths passes. An elongated PSF on axes
#: turned against the image's reads 2 |e| sin(turn): a PSF of e = 0.05 turned by 30 degrees, 0.05.
SHAPE_TOLERANCE = 0.05


def _orientation(e1: float, e2: float) -> float:
    """Position angle (degrees counter-clockwise from x, in (-90, 90]) of an ellipticity."""
    return float(0.5 * np.degrees(np.arctan2(e2, e1)))


def _sigma(stamp: np.ndarray) -> tuple[float, float, float, float, float]:
    """``(sigma, x, y, e1, e2)`` adaptive moments of a stamp (pixels; ellipticity as a
    distortion); NaNs when HSM does not converge."""
    import galsim

    img = galsim.Image(np.ascontiguousarray(stamp, dtype=np.float64), scale=1.0)
    res = galsim.hsm.FindAdaptiveMom(img, strict=False)
    if res.moments_status != 0 or not res.moments_sigma > 0:
        return (float("nan"),) * 5
    # GalSim's centroid is 1-based on an image whose origin is (1, 1)
    return (float(res.moments_sigma), float(res.moments_centroid.x - 1), float(res.moments_centroid.y - 1),
            float(res.observed_shape.e1), float(res.observed_shape.e2))


def _fitted_sigma(stamp: np.ndarray) -> tuple[float, float, float, float, float]:
    """``(sigma, x, y, nan, nan)`` of a round Gaussian integrated over the pixels, fitted to the
    stamp's core (:func:`galgen.psf.models.pixel_gaussian_fit`: sigma before the pixel, so a hot
    pixel reads 0.1); for sources too small for :func:`_sigma`, whose shape it does not read.
    NaNs when the stamp has no positive peak."""
    from galgen.psf.models import pixel_gaussian_fit

    if not np.nanmax(stamp) > 0:
        return (float("nan"),) * 5
    return (*pixel_gaussian_fit(stamp), float("nan"), float("nan"))


def _stellar_locus(sizes: np.ndarray, min_stars: int, width: float) -> np.ndarray:
    """``(N,)`` bool: the stars among sources of these sizes. The narrowest group of at least
    ``min_stars`` sources within ``2 width`` (relative) of each other, then those within
    ``width`` of that group's median: a lone narrower source (a cosmic ray, a noise peak) does
    not anchor it, and when there are fewer stars than ``min_stars`` the group found is made of
    galaxies only if they are nearly as narrow as the narrowest ones."""
    order = np.sort(sizes)
    for s in order:
        group = (sizes >= s) & (sizes <= s * (1 + 2 * width))
        if group.sum() >= min_stars:
            return np.abs(sizes / np.median(sizes[group]) - 1) <= width
    return np.zeros(sizes.shape, bool)


def check_psf_with_stars(field_image: object, psf_fwhm: u.Quantity | float | None = None, *,
                         psf: object = None, pixel_scale: u.Quantity | float | None = None,
                         noise_rms: float | None = None, background: float | str = "auto",
                         moffat_beta: float = 3.5, snr_min: float = 30.0,
                         saturation: float | None = None, tolerance: float = 0.1,
                         min_stars: int = 5, locus_width: float = 0.1, max_scatter: float = 0.03,
                         hdu: int | str | None = None,
                         psf_position: tuple[float, float] | None = None, noise_map: object = None,
                         noise_map_type: str | None = None, mask: object = None,
                         psf_angle: float | None = None, mask_ignore: int | str | None = None,
                         check_shape: bool | None = None,
                         shape_tolerance: float = SHAPE_TOLERANCE) -> StarCheck:
    """Compare the PSF given for an image with the stars of the image.

    Parameters
    ----------
    field_image : path, HDU, CCDData, NDData or numpy.ndarray
        ``(H, W)`` a field (or a large cutout) from the exposure the PSF is for; read like
        :func:`galgen.restore`'s input.
    psf_fwhm : Quantity or float, optional
        The PSF as a Moffat (``moffat_beta``) FWHM: an angle, a Quantity in ``u.pix``, or a plain
        float in pixels.
    psf : path, HDU, numpy.ndarray or galsim.GSObject, optional
        The PSF as an image or model, as :func:`galgen.restore` takes it.
    pixel_scale : Quantity or float, optional
        Pixel scale (arcsec) when the image has no WCS.
    noise_rms, background : optional
        As :func:`galgen.restore`: estimated (source-masked) when omitted.
    moffat_beta : float, default 3.5
        Beta of the Moffat made from ``psf_fwhm``.
    snr_min : float, default 30
        Peak signal-to-noise a source needs (faint stars' sizes scatter).
    saturation : float, optional
        Sources with a pixel at or above this value (input units, before background subtraction)
        are skipped: a saturated star looks wider than the PSF. Default: the header's
        ``SATURATE`` or ``SATLEVEL`` (:func:`galgen.io.fits.saturation_level`), if any.
    tolerance : float, default 0.1
        ``|ratio - 1|`` above which the PSF is called wrong.
    min_stars : int, default 5
        Fewest stars to give a verdict. At SDSS-like resolution, compact galaxies are nearly as
        narrow as stars and of nearly one size; in a field with few stars three of them could
        pass for a stellar locus (seen on simulated fields), five rarely do.
    locus_width : float, default 0.1
        Relative width of the stellar locus about its median.
    max_scatter : float, default 0.03
        Largest relative robust scatter of the locus's sizes for it to be stars: images of one
        PSF have one size (on simulated fields of constant PSF: <= 0.011 in 33 of 34 fields,
        0.022 in one), while compact galaxies that pass for a locus spread over it (0.015-0.09,
        most above 0.03). Above it the verdict is ``NO_STARS``. A PSF that varies across a
        large field widens the real locus: check a cutout around the stamp, or raise it.
    hdu : int or str, optional
        HDU of a file.
    psf_position : (float, float), optional
        With a PSFEx model or SDSS psField as ``psf``: where to evaluate it, ``(x, y)`` in the
        exposure's 1-based pixels, as :func:`galgen.restore` takes it (default the image's centre
        on its exposure when its header says where it lies, else the model's centre).
    noise_map, noise_map_type, mask : optional
        The image's noise map and mask in files of their own, as :func:`galgen.restore` takes
        them: sources on masked pixels, or on pixels the noise map says hold no data (zero
        weight), are left out.
    psf_angle : float, optional
        Degrees to turn ``psf`` by onto the image's axes, as :func:`galgen.restore` takes it.
    mask_ignore : int or str, optional
        Bits of the image's mask that mark usable pixels, as :func:`galgen.restore` takes them.
    check_shape : bool, optional
        Also compare the stars' shape (adaptive-moment ellipticity) with the PSF's: a PSF of the
        right size but another shape, or lying on other axes, is ``PSF_SHAPE``. Default: when
        ``psf`` is given (a Moffat made from ``psf_fwhm`` is round, while real seeing is not
        quite). Not for an undersampled PSF, whose shape adaptive moments do not read.
    shape_tolerance : float, default :data:`SHAPE_TOLERANCE`
        Ellipticity difference above which the shapes are called different.

    Returns
    -------
    StarCheck

    Raises
    ------
    GalgenPSFError, GalgenValueError, GalgenFileError
        As :func:`galgen.restore` for a bad image or PSF.

    Examples
    --------
    >>> import galsim, numpy as np
    >>> img = galsim.ImageD(240, 240, scale=1.0)
    >>> for x, y in [(40, 40), (120, 40), (200, 40), (40, 140), (120, 140), (200, 200)]:
    ...     _ = galsim.Moffat(3.5, fwhm=4.0).withFlux(2e4).drawImage(
    ...         img, center=galsim.PositionD(x, y), add_to_image=True)
    >>> data = img.array + np.random.default_rng(1).normal(0, 1, img.array.shape)
    >>> check_psf_with_stars(data, 4.0, pixel_scale=0.2, noise_rms=1.0, background=0.0).verdict
    'OK'
    >>> check_psf_with_stars(data, 5.2, pixel_scale=0.2, noise_rms=1.0, background=0.0).verdict
    'PSF_TOO_WIDE'
    """
    from photutils.detection import find_peaks
    from photutils.utils.exceptions import NoDetectionsWarning

    from galgen.errors import GalgenPSFError
    from galgen.io.fits import read_image, saturation_level
    from galgen.io.planes import with_own_planes
    from galgen.restoration.engine import prepare_observation

    measure = _sigma
    psf_moments: tuple = (float("nan"),) * 5  # the PSF's, as measure gives them (its shape: [3:])

    def psf_size(kernel: np.ndarray) -> float:
        nonlocal measure, psf_moments
        psf_moments = _sigma(kernel)
        sigma = psf_moments[0]
        if not np.isfinite(sigma):
            fitted = _fitted_sigma(kernel)
            if np.isfinite(fitted[0]):
                # too small for adaptive moments (an undersampled PSF: Euclid VIS, HST at native
                # sampling): the PSF and the stars are both measured by a pixel-integrated Gaussian fit
                measure, sigma, psf_moments = _fitted_sigma, fitted[0], fitted
        if not np.isfinite(sigma):
            msg = (f"{image.source}: the PSF's adaptive moments did not converge: check the PSF image, "
                   "or the FWHM's unit")
            raise GalgenPSFError(msg)
        return sigma

    image = read_image(field_image, hdu=hdu, pixel_scale=pixel_scale, mask_ignore=mask_ignore)
    image = with_own_planes(image, field_image, noise_map, noise_map_type, mask, hdu, mask_ignore)
    if saturation is None:
        saturation = saturation_level(image.header)
    psf_sigma, psf_given = None, psf is not None
    if psf is not None and psf_fwhm is None:
        # a PSF with rings, spikes or a halo may have no clean half maximum for measure_fwhm; its
        # adaptive-moment size is what is compared here anyway, and sets the star boxes
        from galgen.psf.files import read_psf_for

        psf = read_psf_for(psf, image, psf_position, psf_angle).kernel
        psf_angle = None  # turned once: the kernel is on the image's axes now
        psf_sigma = psf_size(psf)  # of the normalised kernel prepare_observation keeps
        psf_fwhm = 2.3548 * psf_sigma  # pixels (a plain float is pixels here)
    prepared = prepare_observation(image, psf_fwhm, psf=psf, noise_rms=noise_rms, moffat_beta=moffat_beta,
                                   background=background, psf_position=psf_position, psf_angle=psf_angle)
    if psf_sigma is None:
        psf_sigma = psf_size(prepared.psf)
    data, sigma_n = prepared.data, prepared.noise_rms
    half = int(np.ceil(3 * prepared.psf_fwhm_pix))  # a 6-FWHM box holds a Moffat's core and wings
    with quiet(NoDetectionsWarning):  # no peak at all is an answer here (NO_STARS), not a warning
        peaks = find_peaks(data, threshold=snr_min * sigma_n, box_size=2 * half + 1, border_width=half,
                           mask=prepared.mask)
    sizes, xy, shapes = [], [], []
    if peaks is not None:
        px, py = np.asarray(peaks["x_peak"], int), np.asarray(peaks["y_peak"], int)
        for x, y in zip(px, py, strict=True):
            # isolated: no other detected peak within two half-boxes (its light would reach into the
            # box and widen the moments)
            if np.sum((np.abs(px - x) <= 2 * half) & (np.abs(py - y) <= 2 * half)) > 1:
                continue
            box = (slice(y - half, y + half + 1), slice(x - half, x + half + 1))
            if prepared.mask[box].any():
                continue
            if saturation is not None and np.nanmax(image.data[box]) >= saturation:
                continue
            s, cx, cy, e1, e2 = measure(data[box])
            if np.isfinite(s) and s > 0.3:  # narrower than a third of a pixel: a hot pixel or a cosmic ray
                sizes.append(s / psf_sigma)
                xy.append((x - half + cx, y - half + cy))
                shapes.append((e1, e2))
    sizes, xy = np.asarray(sizes), np.asarray(xy, float).reshape(-1, 2)
    shapes = np.asarray(shapes, float).reshape(-1, 2)
    if sizes.size < min_stars:
        return StarCheck(float("nan"), float("nan"), int(sizes.size), xy, "NO_STARS", psf_sigma)
    stars = _stellar_locus(sizes, min_stars, locus_width)
    if stars.sum() < min_stars:
        return StarCheck(float("nan"), float("nan"), int(stars.sum()), xy[stars], "NO_STARS", psf_sigma)
    ratio = float(np.median(sizes[stars]))
    scatter = float(1.4826 * np.median(np.abs(sizes[stars] - ratio)))
    if scatter > max_scatter * ratio:  # sources of many sizes: galaxies, not images of one PSF
        return StarCheck(ratio, scatter, int(stars.sum()), xy[stars], "NO_STARS", psf_sigma)
    verdict = ("OK" if abs(ratio - 1) <= tolerance else "PSF_TOO_WIDE" if ratio < 1 else "PSF_TOO_NARROW")
    star_shape = psf_shape = (float("nan"), float("nan"))
    if check_shape is None:
        check_shape = psf_given
    on_stars = shapes[stars]
    if check_shape and np.all(np.isfinite(on_stars)):
        star_shape = tuple(float(v) for v in np.median(on_stars, axis=0))
        psf_shape = tuple(float(v) for v in psf_moments[3:])  # of the kernel psf_size measured
        difference = float(np.hypot(*np.subtract(star_shape, psf_shape)))
        error = float(np.hypot(*(1.2533 * np.std(on_stars, axis=0) / np.sqrt(len(on_stars)))))
        if verdict == "OK" and difference > max(shape_tolerance, 5 * error):
            verdict = "PSF_SHAPE"
    return StarCheck(ratio, scatter, int(stars.sum()), xy[stars], verdict, psf_sigma, star_shape, psf_shape)


def logged_check(where: str, field_image: object, *args: object, **kwargs: object) -> StarCheck | None:
    """:func:`check_psf_with_stars` for restore and batch runs: its verdict logged under ``where``
    (INFO when ``OK``, WARNING otherwise), and ``None``, logged, when the check itself cannot run
    (a :class:`~galgen.errors.GalgenError`: e.g. the PSF's moments do not converge); the
    restoration goes on unchecked."""
    from galgen.errors import GalgenError

    try:
        result = check_psf_with_stars(field_image, *args, **kwargs)
    except GalgenError as exc:
        log.warning("%s: the PSF could not be checked against the image's stars (%s); restored unchecked",
                    where, exc)
        return None
    log.log(logging.INFO if result.verdict == "OK" else logging.WARNING, "%s: PSF check: %s", where,
            result.message())
    return result
