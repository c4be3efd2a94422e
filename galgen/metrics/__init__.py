"""Photometric and image-quality validation metrics (pure functions, no torch)."""

from galgen.metrics.consistency import data_consistency, reconvolve_to_observed
from galgen.metrics.image import power_spectrum_ratio, psnr, radial_power_spectrum, residual_rms, ssim
from galgen.metrics.morphology import (
    centroid,
    curve_of_growth,
    ellipticity,
    galaxy_footprint,
    half_light_radius,
    isophotal_ellipticity,
    nonparametric_morphology,
    petrosian_flux,
)
from galgen.metrics.photometry import aperture_flux, flux_error, magnitude_error

__all__ = [
    "psnr",
    "ssim",
    "residual_rms",
    "aperture_flux",
    "flux_error",
    "magnitude_error",
    "curve_of_growth",
    "half_light_radius",
    "centroid",
    "ellipticity",
    "isophotal_ellipticity",
    "galaxy_footprint",
    "data_consistency",
    "reconvolve_to_observed",
    "petrosian_flux",
    "nonparametric_morphology",
    "radial_power_spectrum",
    "power_spectrum_ratio",
]
