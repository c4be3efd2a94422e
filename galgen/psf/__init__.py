"""PSFs in arcsec or pixels, rendered on pixel grids, and flux-conserving convolution."""

from galgen.psf.kernels import block_sum, convolve_psf, gaussian_fwhm_quadrature
from galgen.psf.models import (
    default_psf_size,
    fwhm_in_pixels,
    gaussian_psf,
    measure_fwhm,
    moffat_psf,
    psf_from_image,
    undersampled_fwhm,
)
from galgen.psf.shape import moffat_mismatch

__all__ = [
    "gaussian_psf",
    "moffat_psf",
    "psf_from_image",
    "measure_fwhm",
    "undersampled_fwhm",
    "fwhm_in_pixels",
    "default_psf_size",
    "moffat_mismatch",
    "convolve_psf",
    "block_sum",
    "gaussian_fwhm_quadrature",
]
