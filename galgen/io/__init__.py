"""FITS and WCS input/output: read any image, write results with provenance."""

from galgen.io.fits import Image, read_image, to_ccddata, write_fits
from galgen.io.provenance import add_provenance
from galgen.io.stamps import read_stamps, write_stamps
from galgen.io.units import is_surface_brightness, require_linear_unit
from galgen.io.wcs import (
    celestial_wcs,
    move_physical,
    physical_position,
    pixel_scale_from_wcs,
    resample_wcs,
    simple_tan_wcs,
    strip_wcs_keywords,
)

__all__ = [
    "Image",
    "read_image",
    "write_fits",
    "to_ccddata",
    "add_provenance",
    "read_stamps",
    "write_stamps",
    "is_surface_brightness",
    "require_linear_unit",
    "celestial_wcs",
    "pixel_scale_from_wcs",
    "resample_wcs",
    "strip_wcs_keywords",
    "simple_tan_wcs",
    "physical_position",
    "move_physical",
]
