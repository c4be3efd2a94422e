"""Cutouts around sky or pixel positions, WCS kept (astropy ``Cutout2D``)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.nddata import Cutout2D
from astropy.nddata.utils import NoOverlapError

from galgen.errors import GalgenValueError, GalgenWCSError
from galgen.io.fits import Image
from galgen.io.wcs import move_physical

__all__ = ["make_cutout"]


def make_cutout(
    image: Image,
    position: SkyCoord | tuple[float, float],
    size: int | tuple[int, int] | u.Quantity,
    *,
    min_coverage: float = 0.5,
) -> Image:
    """Cut a stamp out of an image, keeping its WCS, units and mask.

    Edge policy: a stamp that runs over the image edge is padded with NaN
    (``Cutout2D(mode="partial")``); the padded pixels are flagged in the mask
    and galgen fills them before a network sees them and sets them back to NaN
    in its outputs. A stamp with less than ``min_coverage`` of its pixels on the
    image is refused.

    Parameters
    ----------
    image : Image
        Image from :func:`galgen.io.read_image`.
    position : SkyCoord or (x, y)
        Centre: sky position (needs a WCS) or 0-based pixel coordinates.
    size : int, (ny, nx) or Quantity
        Stamp size in pixels, or an angle (converted with the pixel scale).
    min_coverage : float, default 0.5
        Smallest accepted fraction of the stamp that overlaps the image.

    Returns
    -------
    Image
        The stamp, with its own WCS and mask.
    """
    if isinstance(position, SkyCoord) and image.wcs is None:
        msg = f"{image.source}: a sky position needs a WCS; give a pixel (x, y) position instead"
        raise GalgenWCSError(msg)
    if isinstance(size, u.Quantity):
        size = int(round((size.to_value(u.arcsec)) / image.pixel_scale))
    try:
        cut = Cutout2D(image.data, position, size, wcs=image.wcs, mode="partial",
                       fill_value=np.nan, copy=True)
    except NoOverlapError:
        msg = f"{image.source}: the cutout at {_describe(position)} does not overlap the image"
        raise GalgenValueError(msg) from None
    data = cut.data
    mask = np.ones(data.shape, bool)
    sl_small = cut.slices_cutout
    mask[sl_small] = image.mask[cut.slices_original]
    coverage = np.isfinite(data).mean()
    if coverage < min_coverage:
        msg = (
            f"{image.source}: only {coverage:.0%} of the cutout at {_describe(position)} lies on the image "
            f"(min_coverage={min_coverage:.0%}); it is too close to the edge"
        )
        raise GalgenValueError(msg)
    std = None
    if image.uncertainty is not None:
        std = Cutout2D(image.uncertainty, position, size, wcs=None, mode="partial",
                       fill_value=np.nan).data
    # IRAF's LTV1/LTV2 say where the stamp lies on the image (and, through the image's own, on its
    # exposure): a PSFEx or psField model of the exposure is then evaluated at the stamp
    origin = np.subtract(cut.origin_original, cut.origin_cutout)  # stamp pixel (0, 0), even off the image
    header = move_physical(image.header.copy(), origin, always=True)
    return Image(data=data, pixel_scale=image.pixel_scale, wcs=cut.wcs, unit=image.unit,
                 mask=mask, uncertainty=std, header=header,
                 source=f"{image.source}[cutout {_describe(position)}]")


def _describe(position: SkyCoord | tuple[float, float]) -> str:
    if isinstance(position, SkyCoord):
        return f"ra={position.ra.deg:.6f} dec={position.dec.deg:.6f}"
    return f"x={position[0]:.2f} y={position[1]:.2f}"
