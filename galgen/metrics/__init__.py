"""Photometric and image-quality validation metrics (pure functions, no torch)."""

from galgen.metrics.image import psnr, residual_rms, ssim
from galgen.metrics.photometry import aperture_flux, flux_error, magnitude_error

__all__ = ["psnr", "ssim", "residual_rms", "aperture_flux", "flux_error", "magnitude_error"]
