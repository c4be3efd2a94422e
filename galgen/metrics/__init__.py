"""Photometric and image-quality validation metrics (pure functions, no torch).

The submodules are imported on first use of one of their names (PEP 562): a restoration needs
only :mod:`galgen.metrics.consistency`, and :mod:`galgen.metrics.morphology` brings in photutils
(0.2-0.4 s of every command's start-up).
"""

from __future__ import annotations

import importlib

#: Public name -> the submodule defining it.
_WHERE = {
    "data_consistency": "consistency",
    "reconvolve_to_observed": "consistency",
    "power_spectrum_ratio": "image",
    "psnr": "image",
    "radial_power_spectrum": "image",
    "residual_rms": "image",
    "ssim": "image",
    "centroid": "morphology",
    "curve_of_growth": "morphology",
    "ellipticity": "morphology",
    "galaxy_footprint": "morphology",
    "half_light_radius": "morphology",
    "isophotal_ellipticity": "morphology",
    "nonparametric_morphology": "morphology",
    "petrosian_flux": "morphology",
    "aperture_flux": "photometry",
    "flux_error": "photometry",
    "magnitude_error": "photometry",
}

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


def __getattr__(name: str) -> object:
    if name in _WHERE:
        value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
        globals()[name] = value  # the next lookup is a plain attribute
        return value
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
