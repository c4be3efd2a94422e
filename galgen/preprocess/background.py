"""Sky background and noise estimation (photutils / sigma-clipped statistics)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.stats import SigmaClip, sigma_clipped_stats
from scipy import ndimage

from galgen.errors import GalgenValueError

__all__ = ["BackgroundEstimate", "estimate_background", "sky_gradient", "source_mask", "target_centre"]


#: On a stamp, the sky level is measured beyond this fraction of its smaller side from the centre.
OUTER_SKY = 0.4


@dataclass(frozen=True)
class BackgroundEstimate:
    """Background level and noise of an image.

    Attributes
    ----------
    background : numpy.ndarray
        ``(H, W)`` background map, in the image's units.
    rms : numpy.ndarray
        ``(H, W)`` background noise (1 sigma) map, in the image's units.
    median : float
        Median of the background map.
    median_rms : float
        Median of the noise map: the noise level galgen's networks are told.
    sources : numpy.ndarray or None
        ``(H, W)`` bool, the pixels found to belong to sources (:func:`source_mask`), kept out of
        the estimate; reused by :func:`galgen.preprocess.estimate_noise_correlation`.
    """

    background: np.ndarray
    rms: np.ndarray
    median: float
    median_rms: float
    sources: np.ndarray | None = None


def source_mask(data: np.ndarray, mask: np.ndarray | None = None, nsigma: float = 2.0,
                npixels: int = 5, dilate: int = 11) -> np.ndarray:
    """Boolean ``(H, W)`` mask of pixels that belong to sources.

    Sources are connected groups of at least ``npixels`` pixels above
    ``nsigma`` times the sigma-clipped noise, dilated by a ``dilate``-pixel box
    so that their faint wings are excluded from background statistics.
    """
    _, median, std = sigma_clipped_stats(data, mask=mask, sigma=3.0)
    if not np.isfinite(std) or std <= 0:
        return np.zeros(data.shape, bool)
    # photutils' detect_sources (8-connected groups of >= npixels pixels above the threshold)
    # and SegmentationImage.make_source_mask (a box dilation) in scipy.ndimage, to the pixel the
    # same (tests/test_preprocess.py): importing photutils.segmentation pulls in scipy.signal and
    # cost 0.5-1.4 s of a 3-8 s one-stamp `galgen restore`, for three array operations.
    above = (data - median > nsigma * std) & (True if mask is None else ~mask)
    labels = _detections(above, npixels)
    if not labels.any():
        return np.zeros(data.shape, bool)
    return ndimage.grey_dilation(labels > 0, footprint=np.ones((dilate, dilate), bool))


def _detections(above: np.ndarray, npixels: int) -> np.ndarray:
    """Labels ``(H, W)`` of the 8-connected groups of at least ``npixels`` pixels of ``above``
    (0 elsewhere and on smaller groups): photutils' ``detect_sources`` in scipy.ndimage."""
    labels, n = ndimage.label(above, structure=np.ones((3, 3)))
    if n:
        labels[np.bincount(labels.ravel())[labels] < npixels] = 0
    return labels


def estimate_background(
    data: np.ndarray,
    mask: np.ndarray | None = None,
    box_size: int | None = None,
    outer: float | None = OUTER_SKY,
) -> BackgroundEstimate:
    """Estimate the sky background and its noise, masking sources first.

    Images at least four boxes on a side use ``photutils.background.Background2D``
    (median background, standard-deviation RMS, 3-sigma clipping); smaller
    stamps use sigma-clipped statistics of the unmasked, source-free pixels and
    return constant maps: the noise from all of them, the sky level from those farther than
    ``outer`` times the stamp's smaller side from its centre, where a centred galaxy's wings
    below the mask's threshold are faintest (``benchmarks/sky_flag.py``: an exponential disk of
    half-light radius a tenth of the stamp's side at SNR 30-150 lost a median 11.5 % of its flux
    to a sky from every source-free pixel, 2.6 % to one from beyond 0.4 of the side).

    Parameters
    ----------
    data : numpy.ndarray
        ``(H, W)`` image, any units. Non-finite pixels are ignored.
    mask : numpy.ndarray, optional
        ``(H, W)`` bool, True for pixels to ignore.
    box_size : int, optional
        Mesh box for ``Background2D``, in pixels; default ``max(32, min(H, W) // 8)``.
    outer : float or None, default 0.4
        On a stamp, measure the sky level beyond this fraction of the smaller side from the
        centre (all source-free pixels when ``None``, or when fewer than 100 lie there).

    Returns
    -------
    BackgroundEstimate

    Raises
    ------
    GalgenValueError
        If fewer than 10 usable background pixels remain.
    """
    data = np.asarray(data, dtype=np.float64)
    bad = ~np.isfinite(data) if mask is None else (np.asarray(mask, bool) | ~np.isfinite(data))
    box = box_size or max(32, min(data.shape) // 8)
    if min(data.shape) >= 4 * box:
        # two passes: a first background map, sources found on the residual, then the final map
        first = _background2d(data, bad, box)
        sources = source_mask(data - first[0], mask=bad)
        use = bad | sources
        background, rms = _background2d(data, use, box)
    else:
        sources = source_mask(data, mask=bad)
        use = bad | sources
        if np.count_nonzero(~use) < 10:
            use = bad  # crowded stamp: fall back to clipping alone
        if np.count_nonzero(~use) < 10:
            msg = "fewer than 10 finite, unmasked pixels: the background cannot be estimated"
            raise GalgenValueError(msg)
        _, median, std = sigma_clipped_stats(data, mask=use, sigma=3.0)
        if outer is not None:
            h, w = data.shape
            yy, xx = np.indices(data.shape)
            far = use | (np.hypot(xx - (w - 1) / 2, yy - (h - 1) / 2) <= outer * min(h, w))
            if np.count_nonzero(~far) >= 100:
                _, median, _ = sigma_clipped_stats(data, mask=far, sigma=3.0)
        background = np.full(data.shape, median)
        rms = np.full(data.shape, std)
    return BackgroundEstimate(background, rms, float(np.median(background)), float(np.median(rms)), sources)


def _background2d(data: np.ndarray, mask: np.ndarray, box: int) -> tuple[np.ndarray, np.ndarray]:
    """``(background, rms)`` maps of ``Background2D``: its low-resolution meshes brought to the
    image's size by :func:`mesh_to_image`."""
    # imported here: a stamp never needs it, and photutils' import (its optional-dependency scan
    # of the installed packages) took 0.2 s of every command's start-up
    from photutils.background import Background2D, MedianBackground, StdBackgroundRMS

    bkg = Background2D(np.where(mask, 0.0, data), box, mask=mask, sigma_clip=SigmaClip(sigma=3.0),
                       exclude_percentile=50.0,
                       bkg_estimator=MedianBackground(), bkg_rms_estimator=StdBackgroundRMS())
    return (mesh_to_image(np.asarray(bkg.background_mesh), box, data.shape),
            mesh_to_image(np.asarray(bkg.background_rms_mesh), box, data.shape))


def mesh_to_image(mesh: np.ndarray, box: int, shape: tuple[int, int]) -> np.ndarray:
    """A ``Background2D`` mesh resized to the image as ``Background2D.background`` does it (cubic
    spline zoom by ``box``, ``mode="reflect"``, ``grid_mode=True``, cropped to ``shape``, clipped
    to the mesh's range), computed as ``R @ mesh @ C.T``.

    Why not photutils' own ``background``/``background_rms``: ``scipy.ndimage.zoom`` evaluates
    the 2-D spline at every output pixel, 0.25 s for each 1920 x 1920 map on the CPU VM and
    three-quarters of ``estimate_background``'s time on a field (the PSF check against a field's
    stars spent 2.8 s there); the spline zoom is separable, and the 1-D zooms ``R`` and ``C`` of
    the identity make it two small matrix products (~10 ms). ``tests/test_preprocess.py`` checks
    the result against photutils' own to 1e-12 of the mesh's range.

    Parameters
    ----------
    mesh : numpy.ndarray
        ``(My, Mx)`` low-resolution map (``Background2D.background_mesh`` or ``..._rms_mesh``).
    box : int
        The box size it was measured in, pixels.
    shape : (int, int)
        ``(H, W)`` of the image.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` map.
    """
    lo, hi = float(np.min(mesh)), float(np.max(mesh))
    if hi == lo:
        return np.full(shape, lo)
    # one 1-D zoom per unit vector (a 2-D zoom of the identity by (box, 1) is not exact along the
    # axis of factor 1: 1e-5)
    rows, cols = (np.stack([ndimage.zoom(e, box, order=3, mode="reflect", grid_mode=True)[:size]
                            for e in np.eye(n)], axis=1)
                  for n, size in zip(mesh.shape, shape, strict=True))
    return np.clip(rows @ mesh @ cols.T, lo, hi)


def target_centre(data: np.ndarray, noise_rms: float, nsigma: float = 2.0,
                  npixels: int = 5) -> tuple[float, float] | None:
    """``(x, y)`` of the target's peak: the local maximum of the image (smoothed by a Gaussian of
    1 pixel against the noise) reached by steepest ascent from the stamp's centre pixel, or, when
    that pixel is not part of a detection, from the nearest pixel of the nearest detection
    (connected groups of at least ``npixels`` pixels above ``nsigma`` times the noise, as
    :func:`source_mask` finds them before it dilates them).

    The ascent stops at the target's own peak even where a larger neighbour's light reaches
    the centre (a centroid of the detection, or of the dilated source mask, would be pulled
    toward the neighbour).

    Parameters
    ----------
    data : numpy.ndarray
        ``(H, W)`` sky-subtracted image (NaN allowed, ignored).
    noise_rms : float
        Noise rms per pixel, same units.
    nsigma : float, default 2
    npixels : int, default 5

    Returns
    -------
    (float, float) or None
        Pixel coordinates (0-based, whole pixels); None when nothing is detected.
    """
    data = np.nan_to_num(np.asarray(data, np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    labels = _detections(data > nsigma * noise_rms, npixels)
    if not labels.any():
        return None
    h, w = data.shape
    y, x = (h - 1) // 2, (w - 1) // 2
    if labels[y, x] == 0:  # the centre pixel is sky: start from the detection nearest to it
        ys, xs = np.nonzero(labels)
        k = np.argmin(np.hypot(xs - x, ys - y))
        y, x = int(ys[k]), int(xs[k])
    smooth = np.pad(ndimage.gaussian_filter(data, 1.0), 1, constant_values=-np.inf)
    for _ in range(h * w):  # steepest ascent on the 3x3 neighbourhoods (padded: indices + 1)
        dy, dx = np.unravel_index(np.argmax(smooth[y:y + 3, x:x + 3]), (3, 3))
        if dy == 1 and dx == 1:
            break
        y, x = y + int(dy) - 1, x + int(dx) - 1
    return float(x), float(y)


def sky_gradient(data: np.ndarray, sky_pixels: np.ndarray, noise_rms: float, noise_factor: float = 1.0,
                 centre: tuple[float, float] | None = None) -> float:
    """How significantly the sky pixels brighten toward ``centre`` (the target), in sigma.

    A galaxy whose light reaches a stamp's edges leaves its faint wings in the pixels a
    background estimate takes for sky, and a constant sky measured on them takes part of the
    galaxy's flux (``benchmarks/sky_flag.py``: 2.6 % at a half-light radius of a tenth of the
    stamp's side, 6.7 % at an eighth, at SNR 30-150). Flat sky, even with a linear gradient
    across the stamp, is as bright near the centre as far from it; galaxy wings are not. The sky
    pixels are split at their median distance from ``centre`` and the statistic is the
    difference of the two halves' means over its standard error, the noise of a mean of
    correlated pixels being ``noise_factor`` times white's.

    Parameters
    ----------
    data : numpy.ndarray
        ``(H, W)`` sky-subtracted image (NaN allowed).
    sky_pixels : numpy.ndarray
        ``(H, W)`` bool, the source-free pixels the sky was estimated from.
    noise_rms : float
        Noise rms per pixel, same units as ``data``.
    noise_factor : float, default 1
        Wide-sum noise rms over white's (:attr:`galgen.preprocess.NoiseCorrelation.sum_factor`).
    centre : (float, float), optional
        ``(x, y)`` pixel of the target; default the stamp's centre.

    Returns
    -------
    float
        z (positive: brighter toward ``centre``); NaN with fewer than 20 sky pixels on either side.
    """
    data = np.asarray(data, np.float64)
    h, w = data.shape
    cx, cy = ((w - 1) / 2, (h - 1) / 2) if centre is None else centre
    use = np.asarray(sky_pixels, bool) & np.isfinite(data)
    y, x = np.nonzero(use)
    r = np.hypot(x - cx, y - cy)
    values = data[use]
    inner = r <= np.median(r) if r.size else np.zeros(0, bool)
    n_in, n_out = int(inner.sum()), int((~inner).sum())
    if min(n_in, n_out) < 20 or not noise_rms > 0:
        return float("nan")
    error = noise_rms * max(noise_factor, 1.0) * np.sqrt(1 / n_in + 1 / n_out)
    return float((values[inner].mean() - values[~inner].mean()) / error)
