"""Survey presets for ``galgen translate``: pixel scale, typical PSF and depth (overridable)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Survey", "SURVEYS"]


@dataclass(frozen=True)
class Survey:
    """Typical observing conditions of a survey (override any of them).

    Attributes
    ----------
    pixel_scale : float
        Arcsec per pixel.
    psf_fwhm : float
        Typical PSF FWHM, arcsec (median seeing for ground-based surveys).
    depth : str
        Typical depth, for the docs (a 5-sigma point-source magnitude).
    """

    pixel_scale: float
    psf_fwhm: float
    depth: str


#: Survey presets: typical values, approximate (median seeing; depths as the surveys quote
#: them). Use them as starting points and give your field's own PSF and noise when you know them.
SURVEYS = {
    "sdss": Survey(0.396, 1.4, "r ~ 22.2 (95 % completeness, point sources)"),
    "decals": Survey(0.262, 1.2, "r ~ 23.5 (5 sigma, galaxies)"),
    "hsc": Survey(0.168, 0.6, "i ~ 26 (Wide, 5 sigma, point sources)"),
    "lsst": Survey(0.2, 0.7, "r ~ 27.5 (10-year coadd, 5 sigma, point sources)"),
    "euclid-vis": Survey(0.1, 0.17, "VIS ~ 24.5 (10 sigma, extended sources)"),
    "hst-acs": Survey(0.05, 0.12, "F814W ~ 27 (COSMOS, 5 sigma, point sources)"),
}
