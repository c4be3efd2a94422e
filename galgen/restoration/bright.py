"""Sources brighter than a model's training SNR inside a large image: found, then restored again.

A learned model restores a stamp brighter than its training range as if it were at the top of
that range (:meth:`galgen.restoration.model.LearnedRestorer.network_noise`): told the stamp's
own noise, the networks break down (``default_x2`` on Sersic galaxies at SNR 5,000: -80 % of the
flux). A field, or a stamp more than twice the training size, cannot be told one larger noise:
its faint galaxies would be erased. So each source above the range is found here
(:func:`bright_regions`), the box around it is restored again with a noise ``SNR / top`` times
larger, and that restoration replaces the first one where the source is brighter, pixel by
pixel, than any the network was trained on (its bright part, grown by 1.5 PSF FWHMs), feathered
in (:func:`blend_weights`). Elsewhere, its fainter wings and the faint galaxies on them included,
the image keeps its restoration with its own noise: told the larger noise, a faint galaxy there
would be erased, and the wings taken for noise.

A source is a connected part of the image brighter than the training range (its PSF-smoothed
pixels above ``top`` sigma, :data:`CORE_SIGNIFICANCE`); its level is the smaller of its own SNR
(the power of its share of the detection it lies in, at 2 sigma of the smoothed noise: the
pixels nearer to it than to any other such part, so that two bright galaxies joined by their
wings are told their own levels) and the SNR of the brightest training-size square on it (a
galaxy larger than the training stamps is as bright, pixel by pixel, as such a square says).
The stamps' own test, whether a stamp's target is its brightest source (:func:`target_dominates`),
is here too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

if TYPE_CHECKING:
    from galgen.restoration.engine import PreparedObservation

__all__ = ["BrightRegion", "bright_regions", "blend_weights", "restore_again", "snr_outside", "regions_note",
           "target_dominates", "DOMINANT_PEAK"]

#: A stamp's target "dominates" it when its peak (1-pixel-smoothed) is at least this share of the
#: stamp's brightest: only then is a bright stamp restored as at the top of the training SNR.
DOMINANT_PEAK = 0.5


def target_dominates(prepared: PreparedObservation) -> bool:
    """Whether the stamp's target (:func:`galgen.preprocess.target_centre`) is its brightest source
    (peak at least :data:`DOMINANT_PEAK` of the stamp's, both smoothed by 1 pixel): the stamp's
    SNR is then the target's, and
    :meth:`~galgen.restoration.model.LearnedRestorer.network_noise` may act on it."""
    from scipy.ndimage import gaussian_filter

    from galgen.preprocess import target_centre

    data = np.where(prepared.mask, 0.0, np.nan_to_num(prepared.data))
    centre = target_centre(data, prepared.noise_rms)
    if centre is None:
        return False
    smooth = gaussian_filter(data, 1.0)
    return bool(smooth[int(centre[1]), int(centre[0])] >= DOMINANT_PEAK * smooth.max())


#: Detection threshold of a source's footprint, in sigma of the noise smoothed by the PSF.
DETECT_SIGMA = 2.0
#: The part of a source restored again: where the PSF-smoothed image stands out from its noise
#: by more than ``top`` times this many sigma, i.e. where the source is brighter, pixel by pixel,
#: than any the network was trained on (a point source at SNR ``top`` peaks at about ``top`` sigma
#: of the PSF-smoothed noise). Chosen on development fields and galaxies (seeds 14,600,000 and
#: 14,700,000) over the first rule, 2 sigma of the larger noise the network is told there, which
#: replaced more of the wings: bright galaxies 45.2 -> 46.4 dB, faint ones within 6" of them
#: 26.3 -> 35.0 dB, 3-4" galaxies in 256-pixel stamps 54.9 -> 55.4 dB (docs/benchmarks.md).
CORE_SIGNIFICANCE = 1.0
#: Footprints smaller than this (input pixels) are noise, not sources.
MIN_PIXELS = 5


@dataclass(frozen=True)
class BrightRegion:
    """A source above a model's SNR range and the box restored again around it.

    Attributes
    ----------
    snr : float
        The source's level (see the module notes): the network is told a noise ``snr / top``
        times the image's.
    box : (slice, slice)
        Input pixels restored again: the footprint's bounding box with a margin.
    footprint : numpy.ndarray
        ``(h, w)`` bool on the box: the pixels restored again, where the source is brighter than
        the training range (:data:`CORE_SIGNIFICANCE`), connected to its peak and grown by about
        1.5 PSF FWHMs.
    source : (tuple of slice, numpy.ndarray)
        The detection it lies in (at 2 sigma of the image's smoothed noise, its faint wings and
        any source joined to it by them included, grown by 1.5 FWHMs): a box and a bool mask on it.
    """

    snr: float
    box: tuple[slice, slice]
    footprint: np.ndarray
    source: tuple[tuple[slice, slice], np.ndarray] | None = None

    @property
    def area(self) -> int:
        """Pixels in the footprint."""
        return int(self.footprint.sum())


def bright_regions(data: np.ndarray, noise_rms: float, psf_fwhm_pix: float, *, top: float, window: int,
                   noise_factor: float = 1.0, mask: np.ndarray | None = None,
                   margin: int = 32) -> list[BrightRegion]:
    """The sources of ``data`` brighter than the training range (see the module notes), brightest
    first.

    Parameters
    ----------
    data : numpy.ndarray
        ``(H, W)`` background-subtracted image, flux per pixel (bad pixels filled).
    noise_rms : float
        Noise rms per pixel, ``data``'s unit.
    psf_fwhm_pix : float
        Observing PSF FWHM, input pixels: footprints are detected on the image smoothed by a
        Gaussian of that FWHM and grown by 1.5 of it.
    top : float
        The model's highest training SNR (the card's ``snr_range`` maximum).
    window : int
        The model's training stamp side, pixels (the square of the level's second estimate).
    noise_factor : float, default 1
        :attr:`galgen.preprocess.NoiseCorrelation.sum_factor`: SNRs are divided by it, as
        :func:`galgen.restoration.engine.snr_estimate` does.
    mask : numpy.ndarray, optional
        ``(H, W)`` bool, True where a pixel was bad: left out of every sum.
    margin : int, default 32
        Input pixels added around each footprint's bounding box (at least the network's receptive
        radius and the feathering of :func:`blend_weights`).

    Returns
    -------
    list of BrightRegion

    Examples
    --------
    A point source at SNR ~1,400 (``400 sqrt(pi) 2``) on white noise, beside a faint one:

    >>> rng = np.random.default_rng(1)
    >>> yy, xx = np.indices((200, 200))
    >>> blob = lambda x, y: np.exp(-0.5 * ((xx - x) ** 2 + (yy - y) ** 2) / 2.0**2)
    >>> data = 400 * blob(50, 60) + 3 * blob(150, 150) + rng.normal(0, 1, (200, 200))
    >>> [(round(float(r.snr), -2), r.box) for r in bright_regions(data, 1.0, 4.7, top=200, window=64)]
    [(1400.0, (slice(16, 105, None), slice(6, 95, None)))]
    """
    data = np.asarray(data, np.float64)
    valid = np.ones(data.shape, bool) if mask is None else ~np.asarray(mask, bool)
    d = np.where(valid, data, 0.0)
    s = max(psf_fwhm_pix, 1.0) / 2.3548
    smooth = ndimage.gaussian_filter(d, s, mode="constant")
    # the rms of white noise smoothed by a unit-sum Gaussian of sigma s: 1 / (2 sqrt(pi) s)
    threshold = DETECT_SIGMA * noise_rms * noise_factor / (2 * np.sqrt(np.pi) * s)
    # the parts restored again: where a source is brighter, pixel by pixel, than any of the
    # training range (CORE_SIGNIFICANCE), each connected part on its own. Its fainter wings keep
    # the image's own noise, and so do fainter galaxies joined to it by those wings (told the
    # larger noise, they would be erased, and the wings taken for noise). Most images have none:
    # they are looked for first
    core_threshold = CORE_SIGNIFICANCE * top * threshold / DETECT_SIGMA
    cores, n_cores = ndimage.label((smooth > core_threshold) & valid, structure=np.ones((3, 3), bool))
    if n_cores == 0:
        return []
    labels, _ = ndimage.label((smooth > threshold) & valid, structure=np.ones((3, 3), bool))
    power = np.where(valid, d**2 - noise_rms**2, 0.0)  # per-pixel signal power, noise removed
    w = min(window, *data.shape)
    square = ndimage.uniform_filter(power, size=w, mode="constant") * w * w
    grow = max(2, int(round(1.5 * psf_fwhm_pix)))
    disk = np.hypot(*np.mgrid[-grow:grow + 1, -grow:grow + 1]) <= grow
    detections = ndimage.find_objects(labels)
    regions = []
    # each detection that holds a core: its pixels shared among its cores (the nearest), so that
    # a source's own SNR is its share of the light, not its neighbours'
    for detection in np.unique(labels[cores > 0]):  # never 0: a core lies within a detection
        found = detections[detection - 1]
        if (labels[found] == detection).sum() < MIN_PIXELS:
            continue
        ya, yb = max(found[0].start - grow, 0), min(found[0].stop + grow, data.shape[0])
        xa, xb = max(found[1].start - grow, 0), min(found[1].stop + grow, data.shape[1])
        here = (slice(ya, yb), slice(xa, xb))
        whole = ndimage.binary_dilation(labels[here] == detection, disk) & valid[here]
        own_cores = np.where(labels[here] == detection, cores[here], 0)
        nearest = ndimage.distance_transform_edt(own_cores == 0, return_distances=False, return_indices=True)
        share = own_cores[nearest[0], nearest[1]]  # each pixel's nearest core
        for core in np.unique(own_cores[own_cores > 0]):
            mine = whole & (share == core)
            own_snr = np.sqrt(max(float(power[here][mine].sum()), 0.0)) / noise_rms / noise_factor
            grown = ndimage.binary_dilation(own_cores == core, disk) & valid[here]
            square_snr = np.sqrt(max(float(square[here][grown].max()), 0.0)) / noise_rms / noise_factor
            level = min(own_snr, square_snr)
            if not level > top:
                continue
            rows, cols = np.nonzero(grown)
            r0, r1, c0, c1 = int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1
            y0, y1, x0, x1 = ya + r0, ya + r1, xa + c0, xa + c1
            box = (slice(max(y0 - margin, 0), min(y1 + margin, data.shape[0])),
                   slice(max(x0 - margin, 0), min(x1 + margin, data.shape[1])))
            footprint = np.zeros((box[0].stop - box[0].start, box[1].stop - box[1].start), bool)
            footprint[y0 - box[0].start:y1 - box[0].start, x0 - box[1].start:x1 - box[1].start] = \
                grown[r0:r1, c0:c1]
            regions.append(BrightRegion(level, box, footprint, (here, whole)))
    return sorted(regions, key=lambda r: -r.snr)


def blend_weights(footprint: np.ndarray, feather: float, scale: int) -> np.ndarray:
    """``(scale h, scale w)`` weights in [0, 1] of a second restoration over ``footprint``
    (``(h, w)`` bool): 1 on the footprint, falling to 0 over about ``2 feather`` input pixels
    outside it (a Gaussian ramp), on the output grid.

    Examples
    --------
    >>> f = np.zeros((20, 20), bool); f[8:12, 8:12] = True
    >>> w = blend_weights(f, 2.0, 2)
    >>> w.shape, float(w[20, 20]), float(w[0, 0])
    ((40, 40), 1.0, 0.0)
    """
    smooth = ndimage.gaussian_filter(footprint.astype(np.float64), feather, mode="constant")
    ramp = np.clip(2.0 * smooth, 0, 1)
    ramp = np.where(footprint, 1.0, ramp)
    ramp[ramp < 1e-3] = 0.0  # far outside: the first restoration exactly
    return np.repeat(np.repeat(ramp, scale, axis=0), scale, axis=1)


def restore_again(predict: Callable[[np.ndarray, float], np.ndarray], observation: np.ndarray,
                  restored: np.ndarray, regions: Sequence[BrightRegion], noise_rms: float, *, top: float,
                  scale: int, feather: float) -> np.ndarray:
    """``restored`` with each region's box restored again as at the top of the SNR range and
    feathered in over the region's footprint.

    Parameters
    ----------
    predict : callable
        ``(box (h, w), noise) -> (scale h, scale w)``: the restoration of an observation's box told
        that noise rms (:meth:`~galgen.restoration.model.LearnedRestorer.predict`).
    observation : numpy.ndarray
        ``(H, W)`` the observation the regions were found on (or a re-noised copy of it).
    restored : numpy.ndarray
        ``(scale H, scale W)`` its restoration told ``noise_rms``; changed in place when float64
        (callers pass arrays of their own).
    regions : sequence of BrightRegion
    noise_rms : float
        The observation's noise rms per pixel: each region is told ``noise_rms * snr / top``.
    top, scale, feather
        The model's highest training SNR, its resolution factor, and the feathering of
        :func:`blend_weights` (input pixels: the PSF FWHM).

    Returns
    -------
    numpy.ndarray
        ``(scale H, scale W)`` float64.
    """
    out = np.asarray(restored, dtype=np.float64)
    for region in regions:
        box = region.box
        again = predict(observation[box], noise_rms * region.snr / top)
        weight = blend_weights(region.footprint, feather, scale)
        outbox = tuple(slice(b.start * scale, b.stop * scale) for b in box)
        out[outbox] += weight * (again - out[outbox])
    return out


def snr_outside(prepared: PreparedObservation, regions: Sequence[BrightRegion], window: int,
                top: float) -> float:
    """The SNR a network saw on an image whose ``regions`` were restored again: the largest of the
    rest of the image's (:func:`~galgen.restoration.engine.snr_estimate` in ``window``-pixel
    squares, the regions' sources left out, their wings too) and ``top``, the SNR the regions were
    restored at."""
    from galgen.restoration.engine import snr_estimate

    mask = np.zeros(prepared.data.shape, bool) if prepared.mask is None else prepared.mask.copy()
    for region in regions:  # the whole source, faint wings included
        where, pixels = region.source if region.source is not None else (region.box, region.footprint)
        mask[where] |= pixels
    rest = snr_estimate(prepared.data, prepared.noise_rms, prepared.noise_correlation.sum_factor, mask,
                        window=window)
    return max(rest, top)


def regions_note(regions: Sequence[BrightRegion]) -> str:
    """``HISTORY`` text (``snr_clamp``) of the regions restored again.

    >>> regions_note([BrightRegion(1744.3, (slice(0, 9), slice(0, 9)), np.ones((9, 9), bool))])
    '1 source above the SNR range (SNR 1744) restored again as at its top, over 81 input pixels'
    """
    levels = ", ".join(f"{r.snr:.0f}" for r in regions[:5]) + (", ..." if len(regions) > 5 else "")
    n = len(regions)
    return (f"{n} source{'s' * (n != 1)} above the SNR range (SNR {levels}) restored again as at its "
            f"top, over {sum(r.area for r in regions)} input pixels")
