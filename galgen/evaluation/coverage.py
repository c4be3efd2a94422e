"""Is the uncertainty map right? Coverage of restorations by their UNCERT, and its calibration.

A per-pixel standard deviation ``sigma`` is *calibrated* when ``|restored - truth| <= k sigma``
holds on the fraction of pixels a Gaussian predicts: 68.3 % at ``k = 1``, 95.4 % at ``k = 2``.
galgen's ``--samples`` map is the spread of posterior draws (models that ship a sampler) or a
noise bootstrap (how the output moves with the noise, which misses the model's own error, growing
with the surface brightness). The calibration fitted here, on validation pairs only, is::

    sigma_cal^2 = (a * sigma)^2 + (b * |restored|)^2

with ``(a, b)`` chosen so that the coverage of galaxy pixels at 0.5, 1, ..., 3 sigma
(:data:`CALIBRATION_LEVELS`) is as close as it gets to a Gaussian's (least squares). Two levels
alone fix the two numbers exactly and leave them degenerate: on three splits of 60 validation
pairs of ``survey_x2``'s sampler such fits ranged over a = 0.48-1.01 and one put the other
split's 1 sigma coverage at 61 %; six levels gave a = 1.117-1.119 on every split. When the fit
is given each pixel's brightness relative to its stamp's peak, every bin of
:data:`BRIGHTNESS_EDGES` then gets its own scale of ``sigma_cal`` (the brightest pixels, where
a restoration misses structure, need more than the faint outskirts). The result is stored in
the model card (``uncertainty_calibration``) and applied by
:class:`galgen.restoration.LearnedRestorer` whenever it computes an uncertainty map.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["galaxy_pixels", "coverage", "reliability", "coverage_metrics", "pooled_reliability",
           "fit_uncertainty_calibration", "apply_uncertainty_calibration", "NOMINAL", "RELIABILITY_LEVELS",
           "GALAXY_RADIUS", "complete_coverage_rows", "CALIBRATION_LEVELS",
           "BRIGHTNESS_EDGES", "relative_brightness"]

#: Gaussian coverage at 1 and 2 sigma.
NOMINAL = {1.0: math.erf(1 / math.sqrt(2)), 2.0: math.erf(2 / math.sqrt(2))}
#: Multiples of sigma whose coverage the calibration fits to a Gaussian's.
CALIBRATION_LEVELS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
#: Lower edges of the bins of relative brightness ``|restored| / peak`` that get their own scale
#: (the last bin is open-ended).
BRIGHTNESS_EDGES = (0.0, 0.01, 0.05, 0.2)


#: Nominal levels of the reliability diagram.
RELIABILITY_LEVELS = np.linspace(0.05, 0.99, 25)
#: Radius (arcsec) around the stamp centre whose pixels count as the galaxy's.
GALAXY_RADIUS = 2.0


def galaxy_pixels(shape: tuple[int, int], radius_pix: float) -> np.ndarray:
    """``(H, W)`` bool: pixels within ``radius_pix`` of the stamp centre."""
    yy, xx = np.indices(shape)
    cy, cx = (shape[0] - 1) / 2, (shape[1] - 1) / 2
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= radius_pix**2


def coverage(restored: np.ndarray, std: np.ndarray, truth: np.ndarray, mask: np.ndarray,
             ks: tuple[float, ...] = (1.0, 2.0)) -> dict[float, float]:
    """Fraction of ``mask`` pixels with ``|restored - truth| <= k * std``, for each ``k``."""
    r = np.abs(np.asarray(restored) - np.asarray(truth))[mask]
    s = np.asarray(std)[mask]
    return {k: float(np.mean(r <= k * s)) for k in ks}


def reliability(z: np.ndarray, levels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Nominal versus observed coverage from normalised residuals ``z = |restored - truth| / std``.

    Returns ``(nominal, observed)``: for each nominal Gaussian level ``p`` the fraction of
    pixels with ``z <= sqrt(2) erfinv(p)``; a calibrated map lies on the diagonal.
    """
    from scipy.special import erfinv

    levels = np.linspace(0.05, 0.99, 25) if levels is None else np.asarray(levels)
    k = np.sqrt(2) * erfinv(levels)
    z = np.asarray(z).ravel()
    return levels, np.array([np.mean(z <= ki) for ki in k])


def coverage_metrics(restored: np.ndarray, std: np.ndarray, truth: np.ndarray, pixel_scale: float,
                     radius: float = GALAXY_RADIUS) -> dict:
    """Coverage of one restoration by its uncertainty map, on galaxy pixels.

    Parameters
    ----------
    restored, std, truth : numpy.ndarray
        ``(H, W)`` restored image, its 1-sigma map and the truth, in the same flux unit; pixels
        where any is not finite (masked inputs) are left out.
    pixel_scale : float
        arcsec per pixel of these images.
    radius : float, default :data:`GALAXY_RADIUS`
        arcsec around the stamp centre.

    Returns
    -------
    dict
        ``coverage_1sigma``, ``coverage_2sigma`` (fractions with ``|restored - truth| <= k std``),
        ``coverage_pixels`` (how many pixels) and ``reliability``: ``(25,)`` observed coverage at
        :data:`RELIABILITY_LEVELS` (pool rows with :func:`pooled_reliability`). NaN (and 0
        pixels) when no pixel qualifies.
    """
    restored, std, truth = (np.asarray(a, float) for a in (restored, std, truth))
    mask = galaxy_pixels(truth.shape, radius / pixel_scale)
    mask &= np.isfinite(restored) & np.isfinite(std) & np.isfinite(truth)
    if not mask.any():
        return _no_coverage()
    z = np.abs(restored - truth)[mask] / np.maximum(std[mask], 1e-30)
    return {"coverage_1sigma": float(np.mean(z <= 1.0)), "coverage_2sigma": float(np.mean(z <= 2.0)),
            "coverage_pixels": int(mask.sum()), "reliability": reliability(z, RELIABILITY_LEVELS)[1]}


def _no_coverage() -> dict:
    """The coverage columns of an image with no pixel to measure (NaN, 0 pixels)."""
    nan = float("nan")
    return {"coverage_1sigma": nan, "coverage_2sigma": nan, "coverage_pixels": 0,
            "reliability": np.full(RELIABILITY_LEVELS.size, nan)}


def complete_coverage_rows(rows: list[dict]) -> list[dict]:
    """Give every row the coverage columns (NaN, 0 pixels) when some rows have them (methods or
    files without an uncertainty map beside those with one), so that they make one table."""
    if any("coverage_pixels" in r for r in rows):
        for r in rows:
            for k, v in _no_coverage().items():
                r.setdefault(k, v)
    return rows


def pooled_reliability(curves: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Pixel-weighted mean of per-image reliability curves (``(N, L)``, ``(N,)`` counts): the
    curve of all their pixels pooled, exactly. Rows with no pixels are skipped."""
    curves, pixels = np.asarray(curves, float), np.asarray(pixels, float)
    keep = (pixels > 0) & np.all(np.isfinite(curves), axis=1)
    if not keep.any():
        return np.full(curves.shape[1], np.nan)
    return np.average(curves[keep], axis=0, weights=pixels[keep])


def relative_brightness(restored: np.ndarray) -> np.ndarray:
    """``|restored| / peak`` of one stamp ``(H, W)`` (its brightest pixel; zeros when it has
    none above 0): the variable the calibration's per-bin scales are indexed by."""
    restored = np.asarray(restored, float)
    peak = np.nanmax(restored) if restored.size else 0.0
    if not np.isfinite(peak) or peak <= 0:
        return np.zeros(restored.shape)
    return np.abs(restored) / peak


def apply_uncertainty_calibration(std: np.ndarray, restored: np.ndarray, calibration: dict | None,
                                  relative: np.ndarray | None = None, *, per_bin: bool = True):
    """``sqrt((a std)^2 + (b |restored|)^2)`` with ``calibration = {"a": a, "b": b}``, times the
    calibration's ``brightness_scale`` of each pixel's bin of relative brightness when it has
    them (``None``: ``std`` unchanged).

    ``relative`` is :func:`relative_brightness` of the stamp at the same pixels; by default it
    is computed from ``restored``, which must then be the whole stamp ``(H, W)``. With
    ``per_bin=False`` only the pooled ``(a, b)`` apply: for an image that is not one galaxy's
    stamp (a mosaic, whose peak is its brightest source), where the bins, fitted on stamps,
    do not mean the same.
    """
    if not calibration:
        return std
    a, b = float(calibration["a"]), float(calibration["b"])
    sigma = np.sqrt((a * std) ** 2 + (b * np.abs(restored)) ** 2)
    scales = calibration.get("brightness_scale") if per_bin else None
    if scales:
        rel = relative_brightness(restored) if relative is None else np.asarray(relative, float)
        sigma = sigma * _bin_scale(rel, calibration["brightness_edges"], scales)
    return sigma


#: A Gaussian's coverage at :data:`CALIBRATION_LEVELS`.
_LEVEL_NOMINAL = np.array([math.erf(k / math.sqrt(2)) for k in CALIBRATION_LEVELS])


def _level_coverage(z_sorted: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Fraction of errors within ``k`` sigma for each ``k`` of :data:`CALIBRATION_LEVELS`, given
    the errors in units of sigma, sorted (``z_sorted``), when sigma is multiplied by ``scale``."""
    levels = scale * np.asarray(CALIBRATION_LEVELS)
    return np.searchsorted(z_sorted, levels, side="right") / max(z_sorted.size, 1)


def _bin_scale(relative: np.ndarray, edges, scales) -> np.ndarray:  # noqa: ANN001
    """Each pixel's scale: ``scales[i]`` for ``edges[i] <= relative < edges[i + 1]`` (last bin
    open-ended)."""
    index = np.clip(np.searchsorted(np.asarray(edges, float), relative, side="right") - 1, 0, len(scales) - 1)
    return np.asarray(scales, float)[index]


def fit_uncertainty_calibration(residual: np.ndarray, std: np.ndarray, restored: np.ndarray,
                                relative: np.ndarray | None = None) -> dict:
    """``(a, b)`` of the module's calibration from pooled validation pixels, and per-bin scales
    of relative brightness when ``relative`` is given.

    Parameters
    ----------
    residual, std, restored : numpy.ndarray
        Same-shaped arrays over galaxy pixels: ``restored - truth``, the draws' (or
        bootstrap's) standard deviation and the restored value.
    relative : numpy.ndarray, optional
        :func:`relative_brightness` at the same pixels. Then, after ``(a, b)``, each bin of
        :data:`BRIGHTNESS_EDGES` gets the scale of its ``sigma`` that brings its own coverage
        closest to a Gaussian's (bins of fewer than 500 pixels keep 1): a single pooled fit
        is dominated by the many faint pixels and left the brightest ones, where the
        restoration misses structure, covered at 88-89 % at 2 sigma on validation pairs.

    Returns
    -------
    dict
        ``a``, ``b`` (and ``brightness_edges``, ``brightness_scale``) and the coverage they
        reach on these pixels (``coverage_1sigma``, ``coverage_2sigma``); ``(a, b)`` chosen on a
        log grid, then refined, to minimise the summed squared distance of the coverages at
        :data:`CALIBRATION_LEVELS` from a Gaussian's.
    """
    r = np.abs(np.asarray(residual, float).ravel())
    s = np.asarray(std, float).ravel()
    x = np.abs(np.asarray(restored, float).ravel())
    one, two = CALIBRATION_LEVELS.index(1.0), CALIBRATION_LEVELS.index(2.0)

    def loss(a: float, b: float) -> tuple[float, float, float]:
        cov = _level_coverage(np.sort(r / np.maximum(np.sqrt((a * s) ** 2 + (b * x) ** 2), 1e-300)))
        return float(np.sum((cov - _LEVEL_NOMINAL) ** 2)), float(cov[one]), float(cov[two])

    best = (np.inf, 1.0, 0.0, 0.0, 0.0)
    for a in np.geomspace(0.3, 10, 25):
        for b in np.r_[0.0, np.geomspace(1e-3, 1.0, 31)]:
            value, c1, c2 = loss(a, b)
            if value < best[0]:
                best = (value, a, b, c1, c2)
    _, a0, b0, _, _ = best
    for a in a0 * np.geomspace(0.85, 1.18, 9):  # refine around the grid's best
        for b in ([0.0] if b0 == 0 else b0 * np.geomspace(0.8, 1.25, 9)):
            value, c1, c2 = loss(a, b)
            if value < best[0]:
                best = (value, a, b, c1, c2)
    _, a, b, c1, c2 = best
    fit = {"a": float(a), "b": float(b), "coverage_1sigma": c1, "coverage_2sigma": c2}
    if relative is None:
        return fit
    rel = np.asarray(relative, float).ravel()
    sigma = np.sqrt((a * s) ** 2 + (b * x) ** 2)
    edges = list(BRIGHTNESS_EDGES)
    scales = []
    for lo, hi in zip(edges, [*edges[1:], np.inf], strict=True):
        sel = (rel >= lo) & (rel < hi)
        if sel.sum() < 500:
            scales.append(1.0)
            continue
        z = np.sort(r[sel] / np.maximum(sigma[sel], 1e-300))
        grid = np.geomspace(0.5, 2.0, 97)
        losses = [np.sum((_level_coverage(z, q) - _LEVEL_NOMINAL) ** 2) for q in grid]
        scales.append(float(grid[int(np.argmin(losses))]))
    cal = sigma * _bin_scale(rel, edges, scales)
    return dict(fit, brightness_edges=edges, brightness_scale=scales,
                coverage_1sigma=float(np.mean(r <= cal)), coverage_2sigma=float(np.mean(r <= 2 * cal)))
