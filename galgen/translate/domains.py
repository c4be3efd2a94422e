"""Two simulated image domains for validating learned translation where the pairing is known.

A learned, unpaired translation can only be checked where the truth pairing exists: the same
galaxy seen by both domains. :func:`render_pair` draws one galaxy (GalSim, the morphology
families of :mod:`galgen.simulate.morphology`) through two :class:`Domain` definitions that
differ by PSF family, pixel scale and noise correlation; :func:`write_domain` fills a folder
with stamps of *one* domain (different galaxies in each folder: an unpaired training set),
and :func:`paired_set` returns paired, noiseless and noisy stamps of both for evaluation.

Both domains cover the same sky (``size * pixel_scale`` arcsec) around the same centre, in
the same photometric units (counts), so that a flux-conserving sum over pixel blocks maps one
grid onto the other exactly.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import galsim
import numpy as np
from astropy.io import fits

from galgen.errors import GalgenValueError

__all__ = ["Domain", "SIM_DOMAIN", "SURVEY_DOMAIN", "render_pair", "write_domain", "paired_set", "domain_psf"]


@dataclass(frozen=True)
class Domain:
    """How one survey (or simulation) sees the sky.

    Parameters
    ----------
    name : str
    pixel_scale : float
        Arcsec per pixel.
    size : int
        Stamp side, pixels.
    psf : {"gaussian", "moffat", "kolmogorov"}
        PSF family.
    psf_fwhm : float
        PSF FWHM, arcsec.
    noise_rms : float
        Noise rms per pixel, counts.
    correlation_pixels : float, default 0
        Correlation length of the noise in pixels (GalSim's HST ACS correlation function
        stretched to it); 0 for white noise.
    moffat_beta : float, default 2.5
    """

    name: str
    pixel_scale: float
    size: int
    psf: str
    psf_fwhm: float
    noise_rms: float
    correlation_pixels: float = 0.0
    moffat_beta: float = 2.5

    def to_dict(self) -> dict:
        return asdict(self)


#: a clean simulation: fine pixels, a Gaussian PSF, white noise
SIM_DOMAIN = Domain("sim", 0.2, 48, "gaussian", 0.6, 1.0)
#: a survey's look: pixels twice as large, Moffat wings (beta 2.5), correlated noise 3x deeper
#: per pixel than the simulation's summed over the same area
SURVEY_DOMAIN = Domain("survey", 0.4, 24, "moffat", 1.2, 3.0, correlation_pixels=1.5)


def domain_psf(domain: Domain) -> galsim.GSObject:
    """The domain's PSF as a GalSim profile (unit flux, arcsec)."""
    if domain.psf == "gaussian":
        return galsim.Gaussian(fwhm=domain.psf_fwhm)
    if domain.psf == "moffat":
        return galsim.Moffat(beta=domain.moffat_beta, fwhm=domain.psf_fwhm)
    if domain.psf == "kolmogorov":
        return galsim.Kolmogorov(fwhm=domain.psf_fwhm)
    msg = f"unknown PSF family {domain.psf!r}: choose gaussian, moffat or kolmogorov"
    raise GalgenValueError(msg)


def _galaxy(rng: np.random.Generator, flux_range: tuple[float, float], max_offset: float) -> galsim.GSObject:
    from galgen.simulate.morphology import FAMILIES, morphology_galaxy

    gal, _ = morphology_galaxy(rng, tuple(FAMILIES), hlr_range=(0.2, 1.2))
    flux = float(np.exp(rng.uniform(*np.log(flux_range))))
    dx, dy = rng.uniform(-max_offset, max_offset, 2)
    return gal.withFlux(flux).shift(float(dx), float(dy))


def _draw(profile: galsim.GSObject, domain: Domain) -> np.ndarray:
    return profile.drawImage(nx=domain.size, ny=domain.size, scale=domain.pixel_scale).array.astype(
        np.float64
    )


def _noise(shape: tuple[int, int], domain: Domain, rng: np.random.Generator) -> np.ndarray:
    if domain.correlation_pixels <= 0:
        return rng.normal(0.0, domain.noise_rms, shape)
    from galgen.simulate.degrade import add_correlated_noise

    return add_correlated_noise(
        np.zeros(shape),
        domain.noise_rms,
        domain.pixel_scale,
        rng,
        correlation_pixels=domain.correlation_pixels,
    )


def render_pair(
    rng: np.random.Generator,
    a: Domain = SIM_DOMAIN,
    b: Domain = SURVEY_DOMAIN,
    *,
    flux_range: tuple[float, float] = (200.0, 4000.0),
    max_offset: float = 1.0,
) -> dict:
    """One galaxy seen by both domains.

    Returns
    -------
    dict
        ``a``, ``b``: noisy stamps ``(a.size, a.size)``, ``(b.size, b.size)`` (counts);
        ``a_clean``, ``b_clean``: the same without noise.
    """
    if abs(a.size * a.pixel_scale - b.size * b.pixel_scale) > 1e-6:
        msg = (
            f'the domains must cover the same sky: {a.size} x {a.pixel_scale}" != {b.size} x {b.pixel_scale}"'
        )
        raise GalgenValueError(msg)
    gal = _galaxy(rng, flux_range, max_offset)
    out = {}
    for key, dom in (("a", a), ("b", b)):
        clean = _draw(galsim.Convolve(gal, domain_psf(dom)), dom)
        out[f"{key}_clean"] = clean
        out[key] = clean + _noise(clean.shape, dom, rng)
    return out


def _header(domain: Domain, seed: int, index: int) -> fits.Header:
    from galgen.io.wcs import simple_tan_wcs

    header = simple_tan_wcs((domain.size, domain.size), domain.pixel_scale).to_header()
    header["BUNIT"] = "count"
    header["PSFFWHM"] = (domain.psf_fwhm, f"[arcsec] FWHM of the {domain.psf} PSF")
    header["NOISERMS"] = (domain.noise_rms, "[count] noise rms per pixel")
    header["DOMAIN"] = (domain.name, "galgen.translate.domains")
    header["SIMSEED"] = (seed, "numpy seed of the stamp set")
    header["SIMINDEX"] = (index, "stamp index in the set")
    return header


def write_domain(
    folder: str | os.PathLike,
    domain: Domain,
    n: int,
    seed: int,
    *,
    other: Domain | None = None,
    progress: bool = False,
) -> list[Path]:
    """Write ``n`` stamps of ``domain`` (``stamp_00000.fits`` ...) into ``folder``.

    Galaxies are drawn from ``numpy.random.default_rng(seed)``; two folders written with
    different seeds hold different galaxies (an unpaired training set). ``other`` only checks
    that both domains cover the same sky. Existing stamps are kept (a rerun completes a set).
    """
    from tqdm.auto import tqdm

    from galgen.io.atomic import atomic_path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in tqdm(range(n), disable=not progress, desc=f"domain {domain.name}"):
        pair = render_pair(rng, domain, other or domain)
        path = folder / f"stamp_{i:05d}.fits"
        if not path.exists():
            with atomic_path(path) as tmp:
                fits.PrimaryHDU(pair["a"].astype(np.float32), header=_header(domain, seed, i)).writeto(tmp)
        paths.append(path)
    return paths


def paired_set(n: int, seed: int, a: Domain = SIM_DOMAIN, b: Domain = SURVEY_DOMAIN) -> dict[str, np.ndarray]:
    """``n`` galaxies seen by both domains: ``a``, ``b``, ``a_clean``, ``b_clean`` stacks
    ``(n, size, size)``, float64 counts."""
    rng = np.random.default_rng(seed)
    pairs = [render_pair(rng, a, b) for _ in range(n)]
    return {k: np.stack([p[k] for p in pairs]) for k in ("a", "b", "a_clean", "b_clean")}
