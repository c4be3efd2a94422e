"""The one restoration engine: prepared observations in, restorations out, for every method.

Every path that restores an image goes through these steps, in this order:

1. :func:`prepare_observation` (background, noise, bad pixels, PSF) gives a
   :class:`PreparedObservation`;
2. a :class:`Restorer` from :func:`~galgen.restoration.methods.get_method` (a learned model
   or a classical baseline, behind one protocol) turns a batch of them into
   :class:`Restoration` results;
3. :func:`finalize` puts masks, WCS, an output header and provenance around each result
   (a ``CCDData``).

:func:`galgen.restore` is a batch of one, :func:`galgen.batch.run_batch` runs passes of
many, and :mod:`galgen.evaluation` runs the same restorer on simulated pairs, so the same
item gives the same pixels and provenance on every path.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.nddata import CCDData, StdDevUncertainty

from galgen.errors import GalgenPSFError, GalgenValueError
from galgen.io.fits import Image, saturation_level
from galgen.io.provenance import INPUT_ONLY_KEYWORDS, add_provenance, pop_input_descriptors
from galgen.io.units import is_surface_brightness, require_linear_unit
from galgen.io.wcs import move_physical, resample_wcs
from galgen.preprocess.background import estimate_background, sky_gradient, source_mask, target_centre
from galgen.preprocess.masks import apply_mask, fill_masked, upsample_mask
from galgen.preprocess.noise import WHITE, NoiseCorrelation, estimate_noise_correlation
from galgen.psf.files import psf_hash
from galgen.psf.models import fwhm_in_pixels, measure_fwhm, moffat_psf
from galgen.restoration.flags import CHI2_LIMIT, SKY_OFFSET_LIMIT, SKY_Z_LIMIT, quality_flags

if TYPE_CHECKING:
    from galgen.psf.stars import StarCheck

log = logging.getLogger(__name__)

__all__ = [
    "PreparedObservation",
    "Restoration",
    "Restorer",
    "prepare_observation",
    "finalize",
    "INPUT_ONLY_KEYWORDS",
    "CHI2_LIMIT",
    "quality_flags",
]


@dataclass(frozen=True)
class PreparedObservation:
    """An observation ready for a restorer.

    Attributes
    ----------
    data : numpy.ndarray
        ``(H, W)`` float64, background-subtracted, bad pixels filled; flux per pixel in
        the input's unit.
    mask : numpy.ndarray
        ``(H, W)`` bool, the pixels that were filled (flagged again in the output).
    noise_rms : float
        Background noise (1 sigma) per input pixel, input units.
    psf : numpy.ndarray
        ``(h, w)`` observing PSF at the input pixel scale, sum 1.
    psf_fwhm_pix : float
        Its FWHM, input pixels.
    pixel_scale : float
        Input pixel scale, arcsec.
    background : float
        Median sky subtracted, input units.
    psf_model : str
        How the PSF was obtained (``"moffat(beta=3.5)"`` or ``"image"``), for provenance.
    noise_correlation : NoiseCorrelation
        The background noise's correlation between pixels, measured on the source-free pixels
        (:func:`galgen.preprocess.estimate_noise_correlation`): the bootstrap uncertainty map
        re-noises the observation with it. Default white.
    noise_rms_plane : float
        Median of the input's own uncertainty plane (``ERR``, ``VARIANCE``, ``IVAR``/``WGT``, or a
        CCDData's uncertainty) on its sky pixels, same units; NaN without one. Recorded
        (``GALGENNV``) and compared with ``noise_rms``, not used in its place.
    sky_z : float
        With ``background="auto"`` on a stamp (a constant sky): how significantly its source-free
        pixels brighten toward the target's peak (:func:`galgen.preprocess.sky_gradient`,
        :func:`galgen.preprocess.target_centre`),
        i.e. hold galaxy light that the sky took (``GALGENSZ``; flag ``SKY`` above
        :data:`galgen.restoration.flags.SKY_Z_LIMIT`). NaN otherwise.
    sky_offset : float
        With a background given as a number (``0`` for sky-subtracted data): the median of the
        source-free pixels left after subtracting it, in units of the noise rms (``GALGENSO``;
        flag ``SKY`` beyond :data:`galgen.restoration.flags.SKY_OFFSET_LIMIT`: the image was not
        sky-subtracted as said). NaN with ``background="auto"``.
    """

    data: np.ndarray
    mask: np.ndarray
    noise_rms: float
    psf: np.ndarray
    psf_fwhm_pix: float
    pixel_scale: float
    background: float = 0.0
    psf_model: str = "image"
    noise_correlation: NoiseCorrelation = WHITE
    noise_rms_plane: float = float("nan")
    sky_z: float = float("nan")
    sky_offset: float = float("nan")

    @property
    def psf_fwhm_arcsec(self) -> float:
        """Observing PSF FWHM, arcsec."""
        return self.psf_fwhm_pix * self.pixel_scale


@dataclass(frozen=True)
class Restoration:
    """What a restorer returns for one observation.

    Attributes
    ----------
    data : numpy.ndarray
        ``(sH, sW)`` restored image, flux per output pixel (input units).
    std : numpy.ndarray or None
        ``(sH, sW)`` per-pixel standard deviation, when the method gives one.
    method : str
        Name of the method or model.
    model_hash : str or None
        sha256 of the weights (learned models).
    psf_fwhm : float or None
        FWHM of the restored image's own PSF, arcsec (a learned model's target PSF; the
        observing PSF for a plain interpolation); ``None`` where the method defines none
        (Richardson-Lucy and Wiener leave a PSF that depends on the data and iterations).
    flux_scale : float
        Flux calibration factor applied (1 when none).
    snr_estimate : float
        The restorer's estimate of the input's SNR (NaN when it makes none).
    regime_warning : str
        Why the input lies outside the model's training regime (``""`` inside it).
    reconvolved : numpy.ndarray or None
        ``(H, W)`` the restoration blurred back to the observation, when already computed.
    params : Mapping
        Scalar settings of the method, recorded as provenance.
    draws : numpy.ndarray or None
        ``(N, sH, sW)`` float32 posterior draws behind ``std``, when a posterior sampler made it.
    light_fraction : float
        Flux put back from the residual (:mod:`galgen.restoration.residual_light`) over the
        output's total: 0 when the step found nothing, NaN when it did not run.
    """

    data: np.ndarray
    std: np.ndarray | None
    method: str
    model_hash: str | None = None
    psf_fwhm: float | None = None
    flux_scale: float = 1.0
    snr_estimate: float = float("nan")
    regime_warning: str = ""
    reconvolved: np.ndarray | None = None
    params: Mapping[str, object] = field(default_factory=dict)
    draws: np.ndarray | None = None
    light_fraction: float = float("nan")


@runtime_checkable
class Restorer(Protocol):
    """What every restoration method offers (learned models and baselines alike)."""

    name: str
    scale: int
    model_hash: str | None

    def restore_batch(self, observations: Sequence[PreparedObservation], *, samples: int = 1,
                      seed: int | None = 0) -> list[Restoration]:
        """One :class:`Restoration` per observation, in order."""
        ...  # pragma: no cover


#: A FWHM given beside a PSF image that differs from the image's own by more than this fraction is
#: named in the log (a wrong unit or a PSF from another exposure; the given FWHM is still used).
FWHM_DISAGREEMENT = 0.2


def _constant_edges(data: np.ndarray, mask: np.ndarray) -> int:
    """How many rows and columns, counted inward from each edge, hold a single value over their
    unmasked pixels (at least 8 of them): a coadd's no-coverage border (often 0) reads so; noisy
    data never does."""
    count = 0
    sides = ((data, mask), (data[::-1], mask[::-1]), (data.T, mask.T), (data.T[::-1], mask.T[::-1]))
    for lines, lmask in sides:
        for line, bad in zip(lines, lmask, strict=True):
            values = line[~bad]
            if values.size < 8 or np.ptp(values) != 0:
                break
            count += 1
    return count


def _warn_constant_edges(image: Image) -> None:
    """Log a warning when whole edge rows or columns of the image are one constant value."""
    n = _constant_edges(image.data, image.mask)
    if n >= 2 and np.ptp(image.data[~image.mask]) > 0:
        log.warning("%s: %d rows or columns at the image's edges hold one constant value, as a coadd's "
                    "border without data does: galgen reads them as sky (they bias its noise estimate). "
                    "Set them to NaN, mask them, or cut them off", image.source, n)


def _warn_saturated(image: Image) -> None:
    """Log a warning when unmasked pixels reach the header's saturation level (``SATURATE``, or
    ``SATLEVEL``; SExtractor's convention: in the image's own units). They are not masked here:
    an image rescaled after the keyword was written (ADU to electrons) would lose good pixels."""
    level = saturation_level(image.header)
    if level is None:
        return
    at = np.isfinite(image.data) & (image.data >= level) & ~image.mask
    if at.any():
        log.warning("%s: %d unmasked pixels reach the header's saturation level (SATURATE = %.6g): a "
                    "saturated core or bleed trail is restored as if it were data. Mask them (NaN, or a "
                    "MASK HDU) if they are saturated; ignore this if the image was rescaled after SATURATE "
                    "was written", image.source, int(at.sum()), level)


def _compare_fwhm(fwhm_pix: float, psf: np.ndarray, pixel_scale: float, source: str) -> None:
    """Log a warning when the FWHM a user gave and the one of the PSF image they gave disagree."""
    try:
        measured = measure_fwhm(psf, method="fit")
    except GalgenPSFError:
        return
    if abs(fwhm_pix / measured - 1) > FWHM_DISAGREEMENT:
        log.warning("%s: the PSF FWHM given, %.3g pixels (%.3g arcsec), differs by %+.0f%% from the PSF "
                    "image's own, %.3g pixels (%.3g arcsec); galgen uses the FWHM given. Check its unit "
                    "(a small star off its pixel's centre can make the image's own read wrong)", source,
                    fwhm_pix, fwhm_pix * pixel_scale,
                    100 * (fwhm_pix / measured - 1), measured, measured * pixel_scale)


def prepare_observation(image: Image, psf_fwhm: u.Quantity | float | None = None, *,
                        psf: np.ndarray | None = None, noise_rms: float | None = None,
                        moffat_beta: float = 3.5, background: float | str = "auto",
                        psf_position: tuple[float, float] | None = None,
                        psf_angle: float | None = None) -> PreparedObservation:
    """Background-subtract, fill bad pixels and build the PSF for an observation.

    Parameters
    ----------
    image : Image
        From :func:`galgen.io.read_image`.
    psf_fwhm : Quantity or float, optional
        Observing PSF FWHM: an angle, a Quantity in ``u.pix``, or a plain float in **pixels**.
        Required unless ``psf`` is given (then measured from it when omitted).
    psf : numpy.ndarray, path or HDU, optional
        PSF image replacing the Moffat model: an array at the observation's pixel scale, or a
        FITS file / HDU whose pixel scale comes from its WCS or ``PIXSCALE`` (see
        :func:`galgen.psf.files.read_psf`), a PSFEx ``.psf`` model, or a GalSim profile;
        checked and normalised here.
    noise_rms : float, optional
        Background noise in the image's units; estimated when omitted.
    moffat_beta : float, default 3.5
        Moffat beta of the PSF model (unused when ``psf`` is given).
    background : "auto" or float, default "auto"
        Sky to subtract: ``"auto"`` estimates a (source-masked) map; a number is
        subtracted as a constant (``0`` for sky-subtracted data, which avoids the small
        positive bias that galaxy wings give estimates).
    psf_position : (float, float), optional
        Where to evaluate a PSF model of the exposure (PSFEx, SDSS psField): the stamp's 1-based
        ``(x, y)`` in the exposure's pixels. Default: the image's centre placed on its exposure by
        the header's ``LTV1``/``LTV2`` (a cutout that says where it lies,
        :func:`galgen.io.wcs.physical_position`), else the model's own default.
    psf_angle : float, optional
        Degrees to turn ``psf`` by (counter-clockwise, x right, y up) onto the image's pixel axes:
        a PSF on a detector's axes for an image on other axes (see
        :func:`galgen.psf.files.read_psf`).

    Returns
    -------
    PreparedObservation

    Raises
    ------
    GalgenValueError
        A logarithmic unit (``BUNIT`` in magnitudes), a noise level that is not positive.
    GalgenPSFError
        No PSF, a PSF wider than half the image, a bad PSF file.
    """
    require_linear_unit(image.unit, image.source)
    h, w = image.shape
    usable = int(np.count_nonzero(~image.mask))
    if usable < 10:  # 10: what the background estimate needs
        msg = (f"{image.source}: {usable} of its {h}x{w} pixels usable (at least 10 needed): the others "
               "are masked (its mask plane or mask=), NaN, or without data by its uncertainty plane (an "
               "inverse variance of 0). Check the HDU, the mask and the noise map")
        raise GalgenValueError(msg)
    psf_model = "image"
    from galgen.psf.files import require_psf_to_turn

    require_psf_to_turn(psf_angle, psf, f"{image.source}: ", shortcut="the Moffat made from psf_fwhm")
    if psf is not None:
        from galgen.psf.files import read_psf_for

        given = read_psf_for(psf, image, psf_position, psf_angle)
        psf = given.kernel
        if given.source != "<ndarray>" or "turned" in given.note:
            psf_model = f"image {given.source} (pixel scale: {given.note})"
    if psf_fwhm is None:
        if psf is None:
            msg = f"{image.source}: give the observing PSF: psf_fwhm= (e.g. 1.0 * u.arcsec) or psf="
            raise GalgenPSFError(msg)
        try:  # an undersampled PSF (HST, Euclid at native sampling) gets a fitted FWHM
            fwhm_pix = measure_fwhm(psf, method="fit")
        except GalgenPSFError as exc:
            where = given.source if given.source != "<ndarray>" else "psf"
            msg = (f"{where}: cannot measure the PSF's FWHM ({exc}); if it is one PSF, give its FWHM too "
                   "(--psf-fwhm, psf_fwhm=)")
            raise GalgenPSFError(msg) from None
    else:
        fwhm_pix = fwhm_in_pixels(psf_fwhm, image.pixel_scale)
        if psf is not None:
            _compare_fwhm(fwhm_pix, psf, image.pixel_scale, image.source)
    if fwhm_pix >= min(h, w) / 2:
        msg = (f"{image.source}: PSF FWHM of {fwhm_pix:.3g} pixels is more than half the "
               f"{h}x{w} image; check the FWHM's unit (arcsec vs pixels) or use a larger cutout")
        raise GalgenPSFError(msg)
    bkg = None
    if background != "auto":
        try:
            finite = np.isfinite(float(background))
        except (TypeError, ValueError):
            finite = False
        if not finite:
            msg = (f"background={background!r}: give 'auto' (estimated) or a finite sky level in the "
                   "image's units (0 for sky-subtracted data)")
            raise GalgenValueError(msg)
    if background == "auto" or noise_rms is None:
        bkg = estimate_background(image.data, image.mask)
    measured = noise_rms is None
    if measured:
        noise_rms = bkg.median_rms
    if background == "auto":
        sky, sky_median = bkg.background, bkg.median
    else:
        sky = sky_median = float(background)
    if not np.isfinite(noise_rms) or noise_rms <= 0:
        good = image.data[~image.mask]
        if measured and good.size and np.ptp(good) == 0:
            msg = (f"{image.source}: every pixel is {good[0]:g}: no data to work on (check the HDU or "
                   "plane)")
        else:
            msg = (f"{image.source}: noise level {noise_rms} is not > 0; give noise_rms= explicitly "
                   "(CLI: --noise-rms)")
        raise GalgenValueError(msg)
    plane_rms = _plane_noise(image, None if bkg is None else bkg.sources)
    if np.isfinite(plane_rms) and not 0.7 < noise_rms / plane_rms < 1 / 0.7:
        said = "measured on the sky pixels" if measured else "given (noise_rms=)"
        log.warning("%s: the noise rms %s is %.4g but the input's uncertainty plane says %.4g (x%.2f); "
                    "galgen uses %.4g. A coadd's or drizzled image's plane often ignores what resampling did "
                    "to the noise (see GALGENNF); if the plane is right, pass noise_rms= (CLI: --noise-rms "
                    "%.4g)",
                    image.source, said, noise_rms, plane_rms, noise_rms / plane_rms, noise_rms, plane_rms)
    _warn_constant_edges(image)
    _warn_saturated(image)
    data, mask = fill_masked(image.data - sky, image.mask)
    if psf is None:
        size = min(int(np.ceil(12 * fwhm_pix)) | 1, (min(h, w) - 1) | 1)
        psf = moffat_psf(fwhm_pix, size, beta=moffat_beta)
        psf_model = f"moffat(beta={moffat_beta:g})"
    correlation = estimate_noise_correlation(data, mask, sources=None if bkg is None else bkg.sources)
    sky_z = float("nan")
    if background == "auto" and bkg.sources is not None and np.all(bkg.background == bkg.median):
        # a stamp's constant sky (a field's Background2D map has no single centre to test against)
        sky_pixels = ~bkg.sources & ~mask
        # measured from the target's peak: an off-centre galaxy's wings brighten toward it
        masked = np.where(mask, np.nan, data)
        sky_z = sky_gradient(masked, sky_pixels, float(noise_rms), correlation.sum_factor,
                             centre=target_centre(masked, float(noise_rms)))
        if sky_z > SKY_Z_LIMIT:
            log.warning("%s: the source-free pixels brighten toward the target (%.1f sigma): the "
                        "galaxy's light reaches the stamp's edges and the estimated sky (%.4g) took part of "
                        "its flux, which comes out low. If the data are already sky-subtracted pass "
                        "background=0 (CLI: --background 0), or give the sky level, or cut a larger stamp",
                        image.source, sky_z, sky_median)
    sky_offset = float("nan")
    if background != "auto":  # the sky the user gave: do the source-free pixels agree?
        # a wider dilation than the noise's mask: a bright galaxy's wings beyond 11 pixels read as sky
        sky_pixels = ~source_mask(data, mask, dilate=SKY_OFFSET_DILATE) & ~mask
        if np.count_nonzero(sky_pixels) >= 50:
            sky_offset = float(np.median(data[sky_pixels])) / float(noise_rms)
        if abs(sky_offset) > SKY_OFFSET_LIMIT:
            log.warning("%s: after the background given (%.4g) the source-free pixels sit at %+.2f sigma: "
                        "the image is not sky-subtracted as said, and fluxes come out %s. Give the sky "
                        "level, or background='auto' (CLI: --background auto)", image.source,
                        float(background), sky_offset, "high" if sky_offset > 0 else "low")
    return PreparedObservation(data=data, mask=mask, noise_rms=float(noise_rms), psf=psf,
                               psf_fwhm_pix=float(fwhm_pix), pixel_scale=image.pixel_scale,
                               background=float(sky_median), psf_model=psf_model,
                               noise_correlation=correlation, noise_rms_plane=plane_rms, sky_z=sky_z,
                               sky_offset=sky_offset)


def _plane_noise(image: Image, sources: np.ndarray | None) -> float:
    """Median of the input's uncertainty plane (a std map, :attr:`galgen.io.Image.uncertainty`) on
    its usable sky pixels: finite and positive (an inverse variance of 0 reads as infinite), not
    masked, not in ``sources`` (which would add their own Poisson noise); NaN without a plane."""
    std = image.uncertainty
    if std is None:
        return float("nan")
    good = np.isfinite(std) & (std > 0)
    if image.mask is not None:
        good &= ~image.mask
    if sources is not None and np.count_nonzero(good & ~sources) >= 50:
        good &= ~sources
    return float(np.median(std[good])) if good.any() else float("nan")


def snr_estimate(data: np.ndarray, noise_rms: float, noise_factor: float = 1.0,
                 mask: np.ndarray | None = None, window: int | None = None) -> float:
    """SNR of a background-subtracted stamp: ``sqrt(max(sum d^2 - N sigma^2, 0)) / sigma`` (the
    matched-filter SNR the simulator draws, with the noise's own power removed); what learned
    models check their SNR regime with. For noise correlated between pixels it is divided by
    ``noise_factor`` (:attr:`galgen.preprocess.NoiseCorrelation.sum_factor`): on the scale of a
    galaxy such noise is that much stronger than its rms per pixel says (the limit of a galaxy
    much larger than the correlation length; on simulated drizzle-like noise the restorations'
    flux errors match those of white-noise stamps of this effective SNR).

    ``mask`` (``(H, W)`` bool, True where a pixel was bad and filled) leaves those pixels out of
    both sums: a filled pixel carries no noise, and counting it in ``N`` would subtract noise
    power it does not have (a stamp at a survey's edge, a third of it NaN, read SNR ~1).

    ``window`` (pixels: a model's training stamp) makes the SNR of an image more than twice that
    size on a side the largest of its ``window``-sized squares (the brightest galaxy's, with
    its neighbours in that square), not the sum over all its sources: a field of 80 ordinary
    galaxies read SNR 448 and was flagged ``REGIME`` by a model trained on 20-200.
    """
    valid = np.ones(data.shape, bool) if mask is None else ~mask
    if window is None or max(data.shape) <= 2 * window:
        d = data[valid]
        return float(np.sqrt(max(np.sum(d**2) - d.size * noise_rms**2, 0.0)) / noise_rms) / noise_factor
    from scipy.ndimage import uniform_filter

    excess = np.where(valid, data**2 - noise_rms**2, 0.0)  # per-pixel signal power, noise removed
    w = min(window, *data.shape)
    best = float(np.max(uniform_filter(excess, size=w, mode="constant"))) * w * w
    return float(np.sqrt(max(best, 0.0)) / noise_rms) / noise_factor


#: Box (pixels) the detections are dilated by for that median: with the noise's 11, the wings of
#: galaxies at SNR 300-3,000 read up to +0.47 (21: +0.25).
SKY_OFFSET_DILATE = 21


def finalize(image: Image, prepared: PreparedObservation, restoration: Restoration, *, scale: int,
             samples: int = 1, psf_check: StarCheck | None = None) -> CCDData:
    """Mask, WCS, output header, provenance and data consistency around a restoration.

    The header describes the restored image: ``PSFFWHM`` is its own PSF FWHM in arcsec
    (when the method defines one), ``PIXSCALE`` (inputs without WCS) its pixel scale; the
    observing PSF, noise and SNR of the input go to ``GALGENPF``, ``GALGENNS`` and
    ``GALGENSN``; ``GALGENX2`` is the reduced chi^2 of the restoration, re-convolved and
    binned, against the observation (expect ~1; see :func:`galgen.metrics.data_consistency`).
    The network and the baselines work in flux per pixel; an input in surface-brightness units
    (``BUNIT`` per solid angle, e.g. ``MJy/sr``: :func:`galgen.io.units.is_surface_brightness`)
    keeps them: its restored values (and ``UNCERT``, and the draws) are multiplied by
    ``scale**2``, the ratio of the pixel areas, and ``HISTORY`` says so.
    With ``psf_check`` (the PSF checked against the stars of the image the stamp comes from,
    :func:`galgen.psf.stars.check_psf_with_stars`), ``GALGENPS`` is its verdict, ``GALGENPR``
    the stars' size over the PSF's, and a wrong PSF adds ``PSF`` to ``GALGENFL``.

    Returns
    -------
    astropy.nddata.CCDData
        ``(scale*H, scale*W)``; filled input pixels are NaN and flagged in ``mask``. When a
        posterior sampler made the uncertainty, its draws are the attribute ``draws``
        ``(N, scale*H, scale*W)`` float32.
    """
    from galgen.metrics.consistency import data_consistency, reconvolve_to_observed, residual_structure_terms

    big_mask = upsample_mask(prepared.mask, scale)
    observed = np.where(prepared.mask, 0.0, prepared.data)
    predicted = restoration.reconvolved
    if predicted is None:
        predicted = reconvolve_to_observed(restoration.data, prepared.psf_fwhm_arcsec,
                                           prepared.pixel_scale / scale, scale, restoration.psf_fwhm or 0.0)
    chi2, _ = data_consistency(restoration.data, observed, prepared.noise_rms, prepared.psf_fwhm_arcsec,
                               prepared.pixel_scale / scale, scale,
                               target_psf_fwhm=restoration.psf_fwhm or 0.0, predicted=predicted,
                               mask=prepared.mask)
    structure, fraction = residual_structure_terms(observed, predicted, prepared.noise_rms,
                                                   prepared.psf_fwhm_pix, mask=prepared.mask,
                                                   noise_acf=prepared.noise_correlation.acf)
    # flux per output pixel; surface brightness (per solid angle) does not change with the pixel
    per_area = float(scale**2) if is_surface_brightness(image.unit) else 1.0
    data = apply_mask(restoration.data, big_mask)  # a float64 copy
    data *= per_area
    header = image.header.copy() if image.header is not None else fits.Header()
    move_physical(header, scale=scale)  # a cutout's place on its exposure, in the output's pixels
    carried = pop_input_descriptors(header)  # input PSF/noise keywords: into HISTORY, not onto the output
    record = {"method": restoration.method, "scale": scale,
              "psf_fwhm_arcsec": round(prepared.psf_fwhm_arcsec, 4), "psf_model": prepared.psf_model,
              "psf_sha256": psf_hash(prepared.psf),
              "noise_rms": f"{prepared.noise_rms:.6g}", "background_subtracted": f"{prepared.background:.6g}",
              "input": image.source, "samples": samples, **restoration.params}
    if restoration.model_hash is not None:
        record.update(flux_scale=f"{restoration.flux_scale:.6g}",
                      snr_estimate=f"{restoration.snr_estimate:.4g}")
    if restoration.regime_warning:
        record["regime_warning"] = restoration.regime_warning
    if per_area != 1.0:
        record["surface_brightness"] = (f"BUNIT is per solid angle: flux per output pixel x {per_area:g} "
                                        "(pixel area ratio) keeps it")
    record.update({f"input {k}": v for k, v in carried})
    add_provenance(header, "restore", record, model_name=restoration.method,
                   model_hash=restoration.model_hash)
    out_scale = image.pixel_scale / scale
    if restoration.psf_fwhm is not None:
        header["PSFFWHM"] = (round(restoration.psf_fwhm, 5), "[arcsec] PSF FWHM of this (restored) image")
    header["GALGENPF"] = (round(prepared.psf_fwhm_arcsec, 5), "[arcsec] observing PSF FWHM of the input")
    header["GALGENPH"] = (psf_hash(prepared.psf), "sha256 (16 hex) of the PSF kernel used")
    header["GALGENBG"] = (prepared.background, "[input units] median background subtracted")
    header["GALGENNS"] = (prepared.noise_rms, "[input units] input noise rms per input pixel")
    header["GALGENNF"] = (round(prepared.noise_correlation.sum_factor, 3),
                          "wide-sum noise rms / white's (1: white noise)")
    if np.isfinite(prepared.noise_rms_plane):
        header["GALGENNV"] = (prepared.noise_rms_plane, "[input units] the input's uncertainty plane, sky")
    if np.isfinite(restoration.snr_estimate):
        header["GALGENSN"] = (round(restoration.snr_estimate, 3), "estimated SNR of the input (/ GALGENNF)")
    header["GALGENX2"] = (chi2, "data consistency: reduced chi2 vs observation")
    if np.isfinite(structure):
        header["GALGENRZ"] = (round(structure, 3), "[sigma] galaxy structure left in the residual")
        header["GALGENRF"] = (round(fraction, 4), "its size, as a fraction of the fine structure")
    if psf_check is not None:
        header["GALGENPS"] = (psf_check.verdict, "PSF given vs the stars of its image")
        if np.isfinite(psf_check.ratio):
            header["GALGENPR"] = (round(psf_check.ratio, 4), "stars' size / PSF's (adaptive moments)")
    if np.isfinite(prepared.sky_z):
        header["GALGENSZ"] = (round(prepared.sky_z, 2), "[sigma] sky pixels brighter toward the target")
    if np.isfinite(restoration.light_fraction):
        header["GALGENLA"] = (round(restoration.light_fraction, 4), "flux put back from the residual / total")
    if np.isfinite(prepared.sky_offset):
        header["GALGENSO"] = (round(prepared.sky_offset, 3), "[sigma] sky pixels' median after the sky given")
    flags = quality_flags(chi2, restoration.regime_warning, structure, fraction,
                          psf_check.verdict if psf_check is not None else "", prepared.sky_z,
                          prepared.sky_offset)
    header["GALGENFL"] = (flags, "OK, or what to distrust")
    wcs = resample_wcs(image.wcs, scale) if image.wcs is not None else None
    if wcs is None:
        header["PIXSCALE"] = (out_scale, "[arcsec] pixel scale of this image")
    std = restoration.std
    if std is not None:
        std = std * per_area if per_area != 1.0 else std  # no copy of a mosaic's map when not needed
        if big_mask.any():  # no uncertainty for a pixel that has no value (NaN like the image and draws)
            std = np.where(big_mask, np.nan, std)
        how = str(restoration.params.get("uncertainty", "bootstrap")).split()[0]
        header["GALGENUQ"] = (how, "UNCERT from posterior draws or a noise bootstrap")
    result = CCDData(data, unit=image.unit if image.unit is not None else u.dimensionless_unscaled,
                     wcs=wcs, mask=big_mask, uncertainty=None if std is None else StdDevUncertainty(std),
                     meta=header)
    if restoration.draws is not None:  # posterior draws, masked like the image (see write_restored)
        result.draws = np.where(big_mask[None], np.nan, restoration.draws * per_area).astype(np.float32)
    return result
