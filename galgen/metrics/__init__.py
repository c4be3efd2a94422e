"""Photometric and image-quality validation metrics (pure functions, no torch).

The submodules are imported on first use of one of their names (PEP 562): a restoration needs
only :mod:`galgen.metrics.consistency`, and :mod:`galgen.metrics.morphology` brings in photutils
(0.2-0.4 s of every command's start-up).
"""

from __future__ import annotations

import importlib

#: Public name -> the submodule defining it, in the documented order (``__all__``).
_WHERE = {
    "psnr": "image",
    "ssim": "image",
    "residual_rms": "image",
    "aperture_flux": "photometry",
    "flux_error": "photometry",
    "magnitude_error": "photometry",
    "curve_of_growth": "morphology",
    "half_light_radius": "morphology",
    "centroid": "morphology",
    "ellipticity": "morphology",
    "isophotal_ellipticity": "morphology",
    "galaxy_footprint": "morphology",
    "data_consistency": "consistency",
    "reconvolve_to_observed": "consistency",
    "petrosian_flux": "morphology",
    "nonparametric_morphology": "morphology",
    "radial_power_spectrum": "image",
    "power_spectrum_ratio": "image",
}

__all__ = list(_WHERE)


def __getattr__(name: str) -> object:
    if name in _WHERE:
        value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
        globals()[name] = value  # the next lookup is a plain attribute
        return value
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
