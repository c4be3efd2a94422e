"""A zoo of realistic observing PSFs for training: ground-based and space-based families.

Surveys hand out PSFs that are not Moffat profiles of one beta: an atmosphere (Kolmogorov)
blurring a telescope's optics (defocus, astigmatism, coma, a central obscuration and its
spider struts), elliptical PSFs from guiding and wind shake, cores with broad halos, and
space PSFs with Airy rings and diffraction spikes. A restorer trained on one PSF family
learns that family; one trained on this zoo, and told the PSF as an image, does not depend
on any of them.

Every family is built with GalSim and scaled to the requested FWHM, measured on the PSF
rendered at the observation's pixel scale the way galgen measures a PSF file a user gives
(:func:`galgen.psf.models.measure_fwhm`), so the FWHM a model is conditioned on means the
same in training and at inference.

=================  ==========================================================================
family             profile
=================  ==========================================================================
``moffat``         ``galsim.Moffat``, beta uniform in 2-5 (beta 2: strong wings)
``kolmogorov``     ``galsim.Kolmogorov`` (atmosphere) convolved with ``galsim.OpticalPSF``
                   (random defocus, astigmatism, coma, trefoil, spherical; obscuration 0-0.4)
``double_gauss``   core Gaussian plus a halo 2-4x wider holding 5-35 % of the light
``space``          ``galsim.OpticalPSF`` alone (obscuration 0.1-0.4, 3-6 struts: rings and
                   spikes), or a real HST ACS PSF of the COSMOS example data
=================  ==========================================================================

Each family is sheared to an ellipticity up to ``max_ellipticity`` in a fraction
``sheared_fraction`` of the draws (by default 0.12 in half of them).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import galsim
import numpy as np

from galgen.errors import GalgenPSFError, GalgenValueError
from galgen.psf.models import measure_fwhm

__all__ = ["PSF_FAMILIES", "random_psf", "scale_to_fwhm"]

#: Families of :func:`random_psf` and how often each is drawn.
PSF_FAMILIES = {"moffat": 0.3, "kolmogorov": 0.35, "double_gauss": 0.15, "space": 0.2}

_GSPARAMS = galsim.GSParams(maximum_fft_size=4096, folding_threshold=1e-3)
_N_OPTICS = 24  # distinct aberration patterns per family (built once per process: OpticalPSF is slow)


@lru_cache(maxsize=32)
def _optics(space: bool, variant: int = 0) -> tuple[galsim.GSObject, ...]:
    """Fixed sets of optical PSFs (seeded: the same in every process), ``lam_over_diam = 1``;
    each ``variant`` is a different set."""
    seed = 7 if space else 5
    rng = np.random.default_rng(seed if variant == 0 else [seed, variant])
    out = []
    # each is rendered once (8 pixels per lambda/D, 16 lambda/D wide) and kept as an
    # InterpolatedImage: dilating and convolving a raw OpticalPSF asks GalSim for huge FFTs
    for _ in range(_N_OPTICS):
        # waves rms: defocus, astigmatism x2, coma x2, trefoil x2, spherical
        aber = rng.normal(0, 0.04 if space else 0.25, 8)
        out.append(galsim.OpticalPSF(
            lam_over_diam=1.0, defocus=aber[0], astig1=aber[1], astig2=aber[2], coma1=aber[3],
            coma2=aber[4], trefoil1=aber[5], trefoil2=aber[6], spher=aber[7] / 2,
            obscuration=float(rng.uniform(0.1, 0.4) if space else rng.uniform(0.0, 0.4)),
            nstruts=int(rng.integers(3, 7)) if space else 0,
            strut_angle=float(rng.uniform(0, 90)) * galsim.degrees,
            ).drawImage(nx=129, ny=129, scale=0.125, method="no_pixel"))
    return tuple(galsim.InterpolatedImage(galsim.Image(im.array / im.array.sum(), scale=0.125),
                                          gsparams=_GSPARAMS) for im in out)


@lru_cache(maxsize=1)
def _hst_psfs() -> tuple[galsim.InterpolatedImage, ...]:
    from astropy.io import fits

    path = resources.files("galgen") / "data" / "cosmos" / "real_galaxy_PSF_images.fits"
    with fits.open(str(path)) as hdul:
        return tuple(galsim.InterpolatedImage(galsim.Image(np.asarray(h.data, np.float64) / h.data.sum(),
                                                           scale=0.03), gsparams=_GSPARAMS)
                     for h in hdul[:20])


def _base_profile(family: str, rng: np.random.Generator, variant: int = 0) -> tuple[galsim.GSObject, dict]:
    """A PSF of ``family`` with a FWHM of roughly one arcsec (rescaled afterwards)."""
    if family == "moffat":
        beta = float(rng.uniform(2.0, 5.0))
        return galsim.Moffat(beta=beta, fwhm=1.0, gsparams=_GSPARAMS), {"beta": beta}
    if family == "kolmogorov":
        k = int(rng.integers(_N_OPTICS))
        optics_fraction = float(rng.uniform(0.1, 0.5))  # optics FWHM relative to the atmosphere's
        optics = _optics(False, variant)[k].dilate(optics_fraction)
        return galsim.Convolve(galsim.Kolmogorov(fwhm=1.0, gsparams=_GSPARAMS), optics), \
            {"optics": k, "optics_fraction": optics_fraction}
    if family == "double_gauss":
        ratio, halo = float(rng.uniform(2.0, 4.0)), float(rng.uniform(0.05, 0.35))
        return galsim.Add([galsim.Gaussian(fwhm=1.0, flux=1 - halo, gsparams=_GSPARAMS),
                           galsim.Gaussian(fwhm=ratio, flux=halo, gsparams=_GSPARAMS)]), \
            {"halo_ratio": ratio, "halo_fraction": halo}
    if family == "space":
        if rng.uniform() < 0.5:
            k = int(rng.integers(len(_hst_psfs())))
            return _hst_psfs()[k], {"hst_psf": k}
        k = int(rng.integers(_N_OPTICS))
        return _optics(True, variant)[k], {"optics": k}
    msg = f"unknown PSF family {family!r}; choose from {sorted(PSF_FAMILIES)}"
    raise GalgenValueError(msg)


#: Under this many pixels a PSF is scaled by the FWHM galgen reads on an undersampled PSF image.
UNDERSAMPLED_PIXELS = 1.9


def _measured_fwhm(profile: galsim.GSObject, pixel_scale: float, size: int,
                   undersampled: bool = False) -> float:
    """The FWHM (arcsec) galgen reads on the profile's image: the core's half maximum, or, when
    ``undersampled`` and the image is too poorly sampled to have one (under ~1.5-1.8 pixels), the
    pixel-integrated Gaussian fit that :func:`galgen.restoration.engine.prepare_observation`
    falls back to. (Above :data:`UNDERSAMPLED_PIXELS` a draw without a core half maximum is
    refused and drawn again, as it always was: the training shards stay reproducible.)"""
    image = profile.drawImage(nx=size, ny=size, scale=pixel_scale).array
    try:
        return measure_fwhm(image / image.sum()) * pixel_scale
    except GalgenPSFError:
        if not undersampled:
            raise
        return measure_fwhm(image / image.sum(), method="fit") * pixel_scale


def scale_to_fwhm(profile: galsim.GSObject, fwhm: float, pixel_scale: float,
                  iterations: int = 2) -> galsim.GSObject:
    """``profile`` dilated so that its image at ``pixel_scale`` has FWHM ``fwhm`` (arcsec),
    as :func:`galgen.psf.models.measure_fwhm` reads it (the pixel response included)."""
    size = max(15, int(np.ceil(6 * fwhm / pixel_scale)) | 1)
    # start from the profile's own FWHM at a fine sampling, then correct for the pixel
    current = _measured_fwhm(profile, 0.05, 121)  # every base profile has a FWHM of ~1-2 arcsec
    profile = profile.dilate(fwhm / current)
    undersampled = fwhm / pixel_scale < UNDERSAMPLED_PIXELS
    for _ in range(iterations):
        current = _measured_fwhm(profile, pixel_scale, size, undersampled)
        profile = profile.dilate(fwhm / current)
    final = _measured_fwhm(profile, pixel_scale, size, undersampled)  # raises if it has no measurable FWHM
    # under UNDERSAMPLED_PIXELS (the fit's range; no training or benchmark set draws there, so
    # their random streams are untouched) the pixel dominates the measured FWHM and the plain
    # ratio converges slowly: a few secant steps in log(dilation), log(FWHM), each bounded
    factor, previous = 1.0, None
    for _ in range(6 if undersampled else 0):
        if abs(final / fwhm - 1) <= 0.02:
            break
        slope = 1.0
        if previous is not None and previous[0] != factor:
            slope = np.log(final / previous[1]) / np.log(factor / previous[0])
            slope = float(np.clip(slope, 0.2, 1.0)) if np.isfinite(slope) else 1.0
        previous = (factor, final)
        factor *= float(np.clip((fwhm / final) ** (1 / slope), 0.7, 1.4))
        final = _measured_fwhm(profile.dilate(factor), pixel_scale, size, undersampled)
    profile = profile.dilate(factor) if factor != 1.0 else profile
    if abs(final / fwhm - 1) > 0.02:
        msg = f"could not scale the PSF to a FWHM of {fwhm:.3g} arcsec (reached {final:.3g})"
        raise GalgenPSFError(msg)
    return profile


def random_psf(rng: np.random.Generator, fwhm: float, pixel_scale: float, *,
               families: dict[str, float] | None = None,
               max_ellipticity: float = 0.12, variant: int = 0,
               sheared_fraction: float = 0.5) -> tuple[galsim.GSObject, dict]:
    """A random PSF of the zoo with FWHM ``fwhm`` arcsec at ``pixel_scale`` arcsec/pixel.

    Parameters
    ----------
    rng : numpy.random.Generator
    fwhm : float
        FWHM (arcsec) of the PSF's image at ``pixel_scale``.
    pixel_scale : float
        Observation pixel scale, arcsec.
    families : dict, optional
        Family -> relative weight (default :data:`PSF_FAMILIES`).
    max_ellipticity : float, default 0.12
        Largest ``|e|`` of the random shear applied to a fraction ``sheared_fraction`` of the
        PSFs.
    variant : int, default 0
        Which fixed set of optical aberration patterns to draw from (training uses 0).
    sheared_fraction : float, default 0.5
        Probability that the PSF is sheared (uniform ``|e|`` up to ``max_ellipticity``, uniform
        position angle).

    Returns
    -------
    galsim.GSObject, dict
        The PSF (unit flux) and what was drawn (``family`` and its parameters).
    """
    families = families or PSF_FAMILIES
    names = sorted(families)
    weights = np.array([families[n] for n in names], float)
    for _ in range(8):  # a strongly aberrated draw can have no measurable half maximum: draw again
        family = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        profile, params = _base_profile(family, rng, variant)
        if rng.uniform() < sheared_fraction:
            e = float(rng.uniform(0, max_ellipticity))
            angle = float(rng.uniform(0, 180))
            profile = profile.shear(e=e, beta=angle * galsim.degrees)
            params.update(e=e, e_angle=angle)
        try:
            return scale_to_fwhm(profile, fwhm, pixel_scale), {"family": family, **params}
        except GalgenPSFError:
            continue
    fallback = galsim.Moffat(beta=3.5, fwhm=1.0)
    return scale_to_fwhm(fallback, fwhm, pixel_scale), {"family": "moffat", "beta": 3.5}
