"""The PSF of a catalog run checked against the stars of each image it restores from.

One stamp cannot tell a wrong PSF (a slightly smaller galaxy behind a wider PSF fits its pixels as
well: docs/benchmarks.md, "Hallucination flag"), but a catalog run holds the whole image, and its
stars are images of the PSF. Before restoring, :func:`check_mosaic_psf` runs
:func:`galgen.psf.stars.check_psf_with_stars` once per image, on a square region around the
catalog's galaxies on it (the PSF where the stamps are), and every stamp restored from that image
carries the verdict: header keywords ``GALGENPS`` (verdict) and ``GALGENPR`` (the stars' size over
the PSF's), the flag ``PSF`` in ``GALGENFL`` when the stars say the PSF given is too wide or too
narrow, and the manifest's ``psf_check`` column.
"""

from __future__ import annotations

import logging

import numpy as np

from galgen.errors import GalgenError
from galgen.io.fits import saturation_level
from galgen.io.hdus import as_std
from galgen.io.masks import bad_pixels, uncovered_pixels
from galgen.io.wcs import exposure_position
from galgen.psf.stars import PSF_CHECK_SIDE, StarCheck, check_region, logged_check

log = logging.getLogger(__name__)

__all__ = ["PSF_CHECK_SIDE", "check_image_psf", "check_mosaic_psf", "check_region"]


def check_mosaic_psf(mosaic: object, options: object, positions: np.ndarray,
                     side: int = PSF_CHECK_SIDE, hdu: int | str | None = None) -> StarCheck | None:
    """Check a catalog run's PSF against the stars of one image.

    Parameters
    ----------
    mosaic : galgen.batch.Mosaic
        The image, opened once (memory-mapped: only the region is read).
    options : galgen.batch.BatchOptions
        The run's PSF (``psf_fwhm`` and/or ``psf``, a PSFEx model evaluated at the region's
        centre), noise, background and Moffat beta, as the stamps are restored with.
    positions : numpy.ndarray
        ``(N, 2)`` 0-based ``(x, y)`` pixel positions of the catalog's galaxies on this image.
    side : int, default :data:`PSF_CHECK_SIDE`
        Region side in pixels.
    hdu : int or str, optional
        The HDU the image is in (a chip of a multi-chip file): a PSF template's header keywords
        are looked up there (:func:`galgen.psf.templates.own_hdu`).

    Returns
    -------
    StarCheck or None
        ``None`` when the check itself could not run (logged with the reason; the stamps are
        restored unchecked). A saturation level from the header (``SATURATE`` or ``SATLEVEL``)
        keeps saturated stars out.
    """
    rows, cols = check_region(mosaic.data.shape, positions, side)
    data = np.array(mosaic.data[rows, cols], dtype=np.float64)
    if mosaic.mask is not None:
        data[bad_pixels(mosaic.mask[rows, cols], mosaic.mask_bits)] = np.nan  # bad, as stamps read them
    if mosaic.uncertainty is not None:  # no data by the noise plane (zero weight), as stamps read them
        data[~np.isfinite(as_std(mosaic.uncertainty[rows, cols], mosaic.uncertainty_kind))] = np.nan
    if mosaic.coverage is not None:  # no exposure (drizzle's WHT of 0)
        data[uncovered_pixels(mosaic.coverage[rows, cols])] = np.nan
    saturation = saturation_level(mosaic.header)
    centre = exposure_position(mosaic.header, (cols.start + cols.stop - 1) / 2,
                               (rows.start + rows.stop - 1) / 2)
    where = f"{mosaic.path} (x {cols.start + 1}-{cols.stop}, y {rows.start + 1}-{rows.stop})"
    from galgen.psf.templates import own_hdu

    psf = own_hdu(options.psf, mosaic.path, mosaic.header, hdu)
    return logged_check(where, data, options.psf_fwhm, psf=psf, pixel_scale=mosaic.pixel_scale,
                        noise_rms=options.noise_rms, background=options.background,
                        moffat_beta=options.moffat_beta, psf_position=centre,
                        saturation=saturation, psf_angle=options.psf_angle)


def check_image_psf(path: str, hdu: int | str | None, options: object, *, positions: np.ndarray | None = None,
                    sky: object = None) -> StarCheck | None:
    """:func:`check_mosaic_psf` on an image file, around its galaxies given as ``positions``
    (``(N, 2)`` 0-based pixels) or as ``sky`` (a ``SkyCoord`` array); ``None`` when the image
    cannot be opened (its stamps then fail with the reason) or the check cannot run, and when it
    fails in any other way (logged: the check is advice, the stamps are restored unchecked)."""
    from galgen.batch.mosaic import open_mosaic, plane_files

    try:
        mosaic = open_mosaic(path, hdu, options.pixel_scale, **plane_files(options, path, hdu))
    except GalgenError:
        return None
    try:
        if positions is None:
            positions = np.column_stack(mosaic.wcs.world_to_pixel(sky)) if sky is not None else None
        positions = np.empty((0, 2)) if positions is None else np.asarray(positions, float).reshape(-1, 2)
        return check_mosaic_psf(mosaic, options, positions, hdu=hdu)
    except Exception as exc:  # noqa: BLE001 - the check is advice: the restoration goes on
        from galgen.batch.runner import _error_text

        log.warning("%s: the PSF could not be checked against the image's stars (%s); restored unchecked",
                    path, _error_text(exc))
        return None
    finally:
        mosaic.close()
