"""One row of validation numbers per galaxy: photometry, size, shape, fidelity, consistency."""

from __future__ import annotations

import numpy as np

from galgen.metrics.consistency import data_consistency
from galgen.metrics.image import power_spectrum_ratio, psnr, ssim
from galgen.metrics.morphology import (
    centroid,
    ellipticity,
    galaxy_footprint,
    half_light_radius,
    isophotal_ellipticity,
    nonparametric_morphology,
    petrosian_flux,
)
from galgen.metrics.photometry import aperture_flux, magnitude_error

__all__ = ["measure_galaxy", "METRIC_UNITS"]

#: unit of each column written by :func:`measure_galaxy` ("" = dimensionless)
METRIC_UNITS = {
    "psnr": "dB", "ssim": "", "flux_error": "", "mag_error": "mag", "hlr_truth": "arcsec",
    "hlr_error": "", "e_truth": "", "e_error": "", "e_iso_truth": "", "e_iso_error": "",
    "centroid_offset": "arcsec", "chi2": "",
    "petro_flux_error": "", "power_ratio_low": "", "power_ratio_high": "",
}

_MORPH = ("gini", "m20", "concentration", "asymmetry", "smoothness")


def measure_galaxy(restored: np.ndarray, truth: np.ndarray, pixel_scale: float, *,
                   observation: np.ndarray | None = None, noise_rms: float | None = None,
                   psf_fwhm: float | None = None, scale: int = 2, aperture: float = 3.0,
                   target_psf_fwhm: float = 0.2, nonparametric: bool = False) -> dict:
    """Compare a restored stamp with its truth (and, optionally, its observation).

    Parameters
    ----------
    restored, truth : numpy.ndarray
        ``(H, W)`` on the same grid, flux per pixel.
    pixel_scale : float
        Their pixel scale, arcsec.
    observation, noise_rms, psf_fwhm : optional
        Observed stamp, its noise and PSF FWHM (arcsec): adds the chi^2 data
        consistency (no truth needed for that one).
    scale : int, default 2
        Restored/observed pixel ratio.
    aperture : float, default 3.0
        Radius (arcsec) of the aperture for fluxes and curves of growth.
    nonparametric : bool, default False
        Also compare Gini, M20, concentration, asymmetry and smoothness
        (statmorph, ~1 s per image; needs ``noise_rms``).

    Returns
    -------
    dict
        ``psnr``, ``ssim``, ``flux_error`` (restored/true - 1 in the aperture),
        ``mag_error``, ``hlr_truth``, ``hlr_error`` (relative), ``e_truth``,
        ``e_error`` (``|e_restored - e_truth|``, adaptive moments: the shape of the galaxy's
        brightest compact part), ``e_iso_truth`` and ``e_iso_error`` (the same for the
        isophotal shape, unweighted moments inside the truth's isophote at the observation's
        1 sigma, :func:`galgen.metrics.isophotal_ellipticity`; needs ``noise_rms``),
        ``centroid_offset``, ``chi2``,
        ``petro_flux_error`` (Petrosian flux, relative), ``power_ratio_low`` and
        ``power_ratio_high`` (median restored/true power below and above the
        observed grid's Nyquist frequency: < 1 lost, > 1 invented), the
        ``<statistic>_error`` differences when ``nonparametric``, and ``flag``
        (why a value is NaN; empty when all went well).
    """
    flags = []
    r_pix = aperture / pixel_scale
    row: dict = {"psnr": psnr(restored, truth), "ssim": ssim(restored, truth)}
    f_true, f_rest = aperture_flux(truth, r_pix), aperture_flux(restored, r_pix)
    row["flux_error"] = f_rest / f_true - 1.0
    row["mag_error"] = magnitude_error(f_rest, f_true)
    h_true = half_light_radius(truth, r_pix, pixel_scale=pixel_scale)
    h_rest = half_light_radius(restored, r_pix, pixel_scale=pixel_scale)
    row["hlr_truth"], row["hlr_error"] = h_true, h_rest / h_true - 1.0
    if not np.isfinite(row["hlr_error"]):
        flags.append("hlr: no positive flux")
    e1t, e2t, why_t = ellipticity(truth, pixel_scale)
    e1r, e2r, why_r = ellipticity(restored, pixel_scale)
    row["e_truth"] = float(np.hypot(e1t, e2t))
    row["e_error"] = float(np.hypot(e1r - e1t, e2r - e2t))
    flags += [f"truth {why_t}"] * bool(why_t) + [f"restored {why_r}"] * bool(why_r)
    row["e_iso_truth"] = row["e_iso_error"] = float("nan")
    if noise_rms is not None:  # the truth's isophote at the observation's 1 sigma, in output units
        footprint = galaxy_footprint(truth, noise_rms / scale**2, radius=aperture / pixel_scale / 3)
        i1t, i2t, _ = isophotal_ellipticity(truth, footprint)
        i1r, i2r, _ = isophotal_ellipticity(restored, footprint)
        row["e_iso_truth"] = float(np.hypot(i1t, i2t))
        row["e_iso_error"] = float(np.hypot(i1r - i1t, i2r - i2t))
    (xt, yt), (xr, yr) = centroid(truth), centroid(restored)
    row["centroid_offset"] = float(np.hypot(xr - xt, yr - yt) * pixel_scale)
    p_true, _ = petrosian_flux(truth, r_pix)
    p_rest, _ = petrosian_flux(restored, r_pix)
    row["petro_flux_error"] = p_rest / p_true - 1.0
    freq, ratio = power_spectrum_ratio(restored, truth)
    nyquist_obs = 0.5 / scale
    row["power_ratio_low"] = float(np.nanmedian(ratio[freq < nyquist_obs]))
    row["power_ratio_high"] = float(np.nanmedian(ratio[freq >= nyquist_obs])) if scale > 1 else float("nan")
    if nonparametric and noise_rms is not None:
        out_noise = noise_rms / scale**2  # per output pixel, for a flux-per-pixel image
        m_true = nonparametric_morphology(truth + np.random.default_rng(0).normal(0, out_noise, truth.shape),
                                          out_noise)
        m_rest = nonparametric_morphology(restored, out_noise)
        for k in _MORPH:
            row[f"{k}_error"] = m_rest[k] - m_true[k]
        flags += [f"truth {m_true['morph_flag']}"] * bool(m_true["morph_flag"])
        flags += [f"restored {m_rest['morph_flag']}"] * bool(m_rest["morph_flag"])
    row["chi2"] = float("nan")
    if observation is not None and noise_rms is not None and psf_fwhm is not None:
        row["chi2"] = data_consistency(restored, observation, noise_rms, psf_fwhm, pixel_scale, scale,
                                       target_psf_fwhm=target_psf_fwhm)[0]
    row["flag"] = "; ".join(flags)
    return row
