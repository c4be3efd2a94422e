"""Degrade a truth galaxy: observing PSF, coarser pixels, sky + Poisson + read noise."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources

import galsim
import numpy as np

from galgen.errors import GalgenPSFError, GalgenValueError
from galgen.psf.kernels import block_sum, convolve_psf
from galgen.psf.models import measure_fwhm
from galgen.simulate.galaxies import GALAXY_GSPARAMS, random_galaxy

__all__ = [
    "Regime",
    "DEFAULT_REGIME",
    "Pair",
    "simulate_pair",
    "degrade_image",
    "add_ccd_noise",
    "add_correlated_noise",
    "observing_psf",
]


@dataclass(frozen=True)
class Regime:
    """Observing and target conditions of a simulated data set.

    Attributes
    ----------
    in_pixel_scale : float
        Observation pixel scale, arcsec (default 0.2).
    factor : int
        Super-resolution factor; the target pixel scale is ``in_pixel_scale / factor``.
    psf_fwhm_range : (float, float)
        Range of the observing PSF FWHM, arcsec (uniform), default (0.6, 1.4).
    psf_kind : {"moffat", "gaussian", "hst", "zoo"}
        Observing PSF family; ``"hst"`` dilates a real HST PSF from the COSMOS
        example data to the drawn FWHM (asymmetric, realistic wings); ``"zoo"`` draws from
        the ground and space families of :mod:`galgen.psf.zoo` (Moffat beta 2-5,
        Kolmogorov x aberrated optics, double Gaussians, obscured optics with spikes, HST).
    moffat_beta : float
        Moffat beta (default 3.5).
    snr_range : (float, float)
        Range of the galaxy's matched-filter SNR (log-uniform), default (20, 200).
    target_psf_fwhm : float
        Gaussian PSF FWHM of the target image, arcsec (default 0.2).
    in_size : int
        Observation stamp side, pixels (default 64); the target side is ``in_size * factor``.
    galaxies : {"cosmos", "morphology"}
        Truth galaxies: COSMOS-like parametric profiles with point-like knots
        (:func:`galgen.simulate.random_galaxy`), or the morphology-rich families of
        :mod:`galgen.simulate.morphology`.
    families : tuple of str
        With ``galaxies="morphology"``: the families drawn from (empty: every family but
        the held-out one, :data:`galgen.simulate.morphology.TRAINING_FAMILIES`).
    cosmos_fraction : float
        With ``galaxies="morphology"``: the fraction of truths drawn as COSMOS-like
        parametric galaxies instead (keeps the smooth-galaxy prior of a model fine-tuned on
        structure).
    scene : bool
        Add companions, stars and edge neighbours to the stamp
        (:func:`galgen.simulate.morphology.scene`).
    moffat_beta_range : (float, float) or None
        Draw the Moffat beta uniformly in this range instead of using ``moffat_beta``.
    correlated_noise : float
        Fraction of pairs whose background noise is correlated like HST ACS drizzled images
        (GalSim's ``acs_I_unrot_sci_20_cf.fits`` correlation function, stretched to 0.7-1.5
        observed pixels) instead of white CCD noise.
    max_offset : float
        The target's centre is offset by up to this many observed pixels on each axis.
    psf_error : float
        RMS fractional error of the PSF *given* to the restorer (``Pair.psf``, ``Pair.psf_fwhm``):
        the true PSF dilated by ``1 + N(0, psf_error)`` (a user's PSF is never exact). With
        ``psf_error > 0`` or ``psf_kind="zoo"``, ``Pair.psf_fwhm`` is the FWHM measured on the
        given PSF image (:func:`galgen.psf.models.measure_fwhm`), as galgen measures a PSF file.
    psf_bias : float
        The PSF given to the restorer is the true one dilated by ``1 + psf_bias`` (a systematic
        PSF-model error, for mismatch tables; applied after ``psf_error``).
    psf_families : tuple of str
        With ``psf_kind="zoo"``: the families drawn from (empty: all of
        :data:`galgen.psf.zoo.PSF_FAMILIES`).
    psf_variant : int
        With ``psf_kind="zoo"``: which fixed set of optical aberration patterns is drawn from
        (training uses 0; benchmarks use others, so their optics are never seen in training).
    psf_variants : tuple of int
        With ``psf_kind="zoo"``: when not empty, each PSF draws its aberration set uniformly from
        these variants instead of ``psf_variant`` (more distinct optics: 24 patterns per
        variant). The benchmark sets use variant 1 (:mod:`galgen.evaluation.benchmark`); a
        training regime that lists it is refused.
    psf_max_ellipticity, psf_sheared_fraction : float
        With ``psf_kind="zoo"``: the fraction of PSFs sheared to a random ``|e|`` up to
        ``psf_max_ellipticity`` (besides the ellipticity their optics give them; defaults 0.5 and
        0.12, those of :func:`galgen.psf.zoo.random_psf`).
    galaxy_scale : float
        Every truth galaxy (and its scene) is dilated by this factor (e.g. ``pixel_scale / 0.2``
        keeps the galaxies' sizes in pixels when the pixel scale changes).
    any_pixel_scale : bool
        A model trained on this regime works in pixel units: its PSF range and target PSF
        hold in pixels (``psf_fwhm_range / in_pixel_scale`` observed pixels; target
        ``target_psf_fwhm / out_pixel_scale`` output pixels) at any pixel scale.
    """

    in_pixel_scale: float = 0.2
    factor: int = 2
    psf_fwhm_range: tuple[float, float] = (0.6, 1.4)
    psf_kind: str = "moffat"
    moffat_beta: float = 3.5
    snr_range: tuple[float, float] = (20.0, 200.0)
    target_psf_fwhm: float = 0.2
    in_size: int = 64
    galaxies: str = "cosmos"
    families: tuple[str, ...] = ()
    cosmos_fraction: float = 0.0
    scene: bool = False
    moffat_beta_range: tuple[float, float] | None = None
    correlated_noise: float = 0.0
    max_offset: float = 0.5
    psf_error: float = 0.0
    psf_bias: float = 0.0
    psf_families: tuple[str, ...] = ()
    psf_variant: int = 0
    psf_variants: tuple[int, ...] = ()
    psf_max_ellipticity: float = 0.12
    psf_sheared_fraction: float = 0.5
    galaxy_scale: float = 1.0
    any_pixel_scale: bool = False

    @property
    def out_pixel_scale(self) -> float:
        """Target pixel scale, arcsec."""
        return self.in_pixel_scale / self.factor

    @property
    def out_size(self) -> int:
        """Target stamp side, pixels."""
        return self.in_size * self.factor

    def to_dict(self) -> dict:
        """Plain-dict form (for model cards and manifests)."""
        return asdict(self)


DEFAULT_REGIME = Regime()

#: Aberration variants of the PSF zoo kept for the benchmark sets: never trained on.
HELD_OUT_PSF_VARIANTS = (1,)


@dataclass
class Pair:
    """A simulated (observation, target) pair.

    Attributes
    ----------
    observation : numpy.ndarray
        ``(in_size, in_size)`` float32, flux per pixel (ADU), background-subtracted, noisy.
    target : numpy.ndarray
        ``(out_size, out_size)`` float32, noise-free truth at the target resolution.
    noise_rms : float
        Background noise (1 sigma) of ``observation``, ADU.
    psf_fwhm : float
        Observing PSF FWHM, arcsec.
    snr : float
        Matched-filter SNR of the galaxy in ``observation``.
    flux : float
        Total flux of the galaxy, ADU.
    psf : numpy.ndarray
        Observing PSF at the observation pixel scale, sum 1.
    regime : Regime
        Conditions it was drawn from.
    params : dict
        Truth parameters of the galaxy.
    """

    observation: np.ndarray
    target: np.ndarray
    noise_rms: float
    psf_fwhm: float
    snr: float
    flux: float
    psf: np.ndarray
    regime: Regime
    params: dict = field(default_factory=dict)


@lru_cache(maxsize=1)
def _hst_psfs() -> list[tuple[galsim.InterpolatedImage, float]]:
    from astropy.io import fits

    path = resources.files("galgen") / "data" / "cosmos" / "real_galaxy_PSF_images.fits"
    out = []
    with fits.open(str(path)) as hdul:
        for hdu in hdul[:20]:
            arr = np.asarray(hdu.data, dtype=np.float64)
            arr = arr / arr.sum()
            fwhm = measure_fwhm(arr, 0.03)
            out.append((galsim.InterpolatedImage(galsim.Image(arr, scale=0.03)), fwhm))
    return out


def observing_psf(fwhm: float, regime: Regime = DEFAULT_REGIME,
                  rng: np.random.Generator | None = None) -> galsim.GSObject:
    """GalSim profile of the observing PSF of ``regime`` with FWHM ``fwhm`` arcsec."""
    if regime.psf_kind == "moffat":
        beta = regime.moffat_beta
        if regime.moffat_beta_range is not None:
            beta = float((rng or np.random.default_rng()).uniform(*regime.moffat_beta_range))
        return galsim.Moffat(beta=beta, fwhm=fwhm, gsparams=GALAXY_GSPARAMS)
    if regime.psf_kind == "gaussian":
        return galsim.Gaussian(fwhm=fwhm, gsparams=GALAXY_GSPARAMS)
    if regime.psf_kind == "zoo":
        from galgen.psf.zoo import PSF_FAMILIES, random_psf

        families = {f: PSF_FAMILIES[f] for f in regime.psf_families} if regime.psf_families else None
        rng = rng or np.random.default_rng()
        variant = regime.psf_variant
        if len(regime.psf_variants) == 1:
            variant = int(regime.psf_variants[0])
        elif regime.psf_variants:  # drawn only then: the streams of single-variant regimes are unchanged
            variant = int(regime.psf_variants[int(rng.integers(len(regime.psf_variants)))])
        return random_psf(rng, fwhm, regime.in_pixel_scale, families=families, variant=variant,
                          max_ellipticity=regime.psf_max_ellipticity,
                          sheared_fraction=regime.psf_sheared_fraction)[0]
    if regime.psf_kind == "hst":
        rng = rng or np.random.default_rng()
        psfs = _hst_psfs()
        interp, base = psfs[int(rng.integers(len(psfs)))]
        return interp.dilate(fwhm / base)
    msg = f"psf_kind must be 'moffat', 'gaussian', 'hst' or 'zoo', got {regime.psf_kind!r}"
    raise GalgenValueError(msg)


@lru_cache(maxsize=1)
def _acs_correlation() -> galsim.CorrelatedNoise:
    path = f"{galsim.meta_data.share_dir}/acs_I_unrot_sci_20_cf.fits"
    return galsim.getCOSMOSNoise(file_name=path, cosmos_scale=0.03)


def add_correlated_noise(image: np.ndarray, noise_rms: float, pixel_scale: float,
                         rng: np.random.Generator, correlation_pixels: float = 1.0) -> np.ndarray:
    """Add stationary Gaussian noise correlated like HST ACS drizzled data.

    GalSim's correlation function of COSMOS F814W (``acs_I_unrot_sci_20_cf.fits``, 0.03"
    pixels) is stretched so that its correlation length is ``correlation_pixels`` pixels of
    ``image``, and scaled to a per-pixel rms of ``noise_rms``.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` float64 noisy copy.
    """
    noise = _acs_correlation().dilate(correlation_pixels * pixel_scale / 0.03).withVariance(noise_rms**2)
    gimage = galsim.Image(np.array(image, dtype=np.float64), scale=pixel_scale)
    gimage.addNoise(noise.copy(rng=galsim.BaseDeviate(int(rng.integers(1, 2**31 - 1)))))
    return gimage.array


def add_ccd_noise(image: np.ndarray, noise_rms: float, rng: np.random.Generator,
                  read_fraction: float = 0.25, sky_electrons: float = 1000.0) -> np.ndarray:
    """Add sky-subtracted Poisson noise and Gaussian read noise (``galsim.CCDNoise``).

    The background variance ``noise_rms**2`` is split into read noise
    (``read_fraction``) and sky Poisson noise; the gain is set so the sky holds
    ``sky_electrons`` per pixel. Bright galaxy pixels get their own Poisson noise on top.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` noise-free, sky-subtracted image in ADU.
    noise_rms : float
        Background noise (1 sigma) to reach, ADU.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` float64 noisy copy.
    """
    sky_var = (1.0 - read_fraction) * noise_rms**2
    gain = np.sqrt(sky_electrons / sky_var)  # e-/ADU
    sky_level = sky_var * gain  # ADU, so that Poisson variance sky_level/gain = sky_var
    read_noise = np.sqrt(read_fraction) * noise_rms * gain  # e-
    gimage = galsim.Image(np.array(image, dtype=np.float64))
    noise = galsim.CCDNoise(galsim.BaseDeviate(int(rng.integers(1, 2**31 - 1))),
                            sky_level=sky_level, gain=gain, read_noise=read_noise)
    gimage.addNoise(noise)
    return gimage.array


def degrade_image(image: np.ndarray, psf: np.ndarray, factor: int, *, noise_rms: float = 0.0,
                  rng: np.random.Generator | None = None) -> np.ndarray:
    """Degrade a pixel image: convolve with ``psf``, bin by ``factor``, add noise.

    Flux is conserved by the convolution (normalised kernel) and the binning
    (block sums), so without noise ``degrade_image(x).sum() == x.sum()`` for a
    source away from the edges.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` high-resolution image, flux per pixel.
    psf : numpy.ndarray
        Odd-sided kernel at the *high* resolution.
    factor : int
        Binning factor (1 = deconvolution problem at the same scale).
    noise_rms : float, default 0
        Background noise to add after binning, same units.
    rng : numpy.random.Generator, optional
        Needed when ``noise_rms > 0``.

    Returns
    -------
    numpy.ndarray
        ``(H/factor, W/factor)`` observation.
    """
    out = block_sum(convolve_psf(image, psf), factor)
    if noise_rms > 0:
        out = add_ccd_noise(out, noise_rms, rng or np.random.default_rng())
    return out


def _matched_filter_snr(image: np.ndarray, noise_rms: float) -> float:
    return float(np.sqrt(np.sum(image**2)) / noise_rms)


def _draw(sources: list[galsim.GSObject], psf: galsim.GSObject, n: int, scale: float) -> np.ndarray:
    """Sum of each source convolved with ``psf``, drawn on an ``n x n`` grid (one small FFT each)."""
    image = galsim.ImageF(n, n, scale=scale)  # float32, as drawImage(nx=, ny=) makes it
    for source in sources:
        galsim.Convolve(source, psf).drawImage(image=image, add_to_image=True)
    return image.array


def simulate_pair(rng: np.random.Generator, regime: Regime = DEFAULT_REGIME, *,
                  galaxy: tuple[galsim.GSObject, dict] | None = None,
                  psf_fwhm: float | None = None, snr: float | None = None,
                  flux: float | None = None) -> Pair:
    """Simulate one (observation, target) pair.

    The truth galaxy (unit flux, scaled to ``flux``) is drawn twice with GalSim,
    with exact pixel integration: convolved with the Gaussian target PSF at the
    target pixel scale, and convolved with the observing PSF at the observation
    pixel scale (GalSim's pixel convolution is the flux-conserving resampling).
    The galaxy centre is offset by up to half an observation pixel. Noise is then
    added to the observation at the requested matched-filter SNR,
    ``SNR = sqrt(sum I^2) / noise_rms``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of all randomness (reproducible per seed).
    regime : Regime
        Conditions; default :data:`DEFAULT_REGIME`.
    galaxy : (GSObject, dict), optional
        Truth profile and its parameters; default :func:`random_galaxy`.
    psf_fwhm, snr, flux : float, optional
        Fix these instead of drawing them (arcsec, -, ADU).

    Returns
    -------
    Pair
    """
    if galaxy is None:
        if regime.galaxies == "morphology" and not (regime.cosmos_fraction
                                                     and rng.uniform() < regime.cosmos_fraction):
            from galgen.simulate.morphology import TRAINING_FAMILIES, morphology_galaxy

            galaxy = morphology_galaxy(rng, tuple(regime.families) or TRAINING_FAMILIES)
        else:
            galaxy = random_galaxy(rng)
    gal, params = galaxy
    if psf_fwhm is None:
        psf_fwhm = float(rng.uniform(*regime.psf_fwhm_range))
    if snr is None:
        snr = float(np.exp(rng.uniform(np.log(regime.snr_range[0]), np.log(regime.snr_range[1]))))
    if flux is None:
        flux = float(np.exp(rng.uniform(np.log(1e3), np.log(1e5))))
    offset = rng.uniform(-1, 1, size=2) * regime.max_offset * regime.in_pixel_scale
    gal = gal.withFlux(1.0)
    if regime.galaxy_scale != 1.0:
        gal = gal.dilate(regime.galaxy_scale)
        params = dict(params, hlr=params["hlr"] * regime.galaxy_scale) if "hlr" in params else params
    sources = [gal.shift(*offset)]
    if regime.scene:
        from galgen.simulate.morphology import scene

        # companions and neighbours are drawn at the simulator's own scale, then dilated alike
        field = regime.in_size * regime.in_pixel_scale / regime.galaxy_scale
        sources, extras = scene(rng, sources[0].dilate(1 / regime.galaxy_scale), field)
        sources = [s.dilate(regime.galaxy_scale) for s in sources] if regime.galaxy_scale != 1.0 else sources
        params = dict(params, **extras)
    sources = [s * flux for s in sources]
    psf = observing_psf(psf_fwhm, regime, rng)
    target_psf = galsim.Gaussian(fwhm=regime.target_psf_fwhm, gsparams=GALAXY_GSPARAMS)
    n_in, n_out = regime.in_size, regime.out_size
    target = _draw(sources, target_psf, n_out, regime.out_pixel_scale)
    clean = _draw(sources, psf, n_in, regime.in_pixel_scale)
    noise_rms = float(np.sqrt(np.sum(clean**2)) / snr)
    if regime.correlated_noise and rng.uniform() < regime.correlated_noise:
        observation = add_correlated_noise(clean, noise_rms, regime.in_pixel_scale, rng,
                                           float(rng.uniform(0.7, 1.5)))
        params = dict(params, noise="correlated")
    else:
        observation = add_ccd_noise(clean, noise_rms, rng)
    n_psf = max(15, int(np.ceil(6 * psf_fwhm / regime.in_pixel_scale)) | 1)
    true_fwhm = psf_fwhm
    dilation = 1.0
    if regime.psf_error > 0:  # the PSF the restorer is told: a slightly wrong model of the true one
        dilation = float(np.clip(1 + rng.normal(0, regime.psf_error), 0.8, 1.2))
    dilation *= 1 + regime.psf_bias
    if dilation != 1.0:
        psf = psf.dilate(dilation)
    psf_image = psf.drawImage(nx=n_psf, ny=n_psf, scale=regime.in_pixel_scale).array
    if regime.psf_error > 0 or regime.psf_bias or regime.psf_kind == "zoo":
        try:  # as galgen measures a PSF file
            psf_fwhm = measure_fwhm(psf_image / psf_image.sum()) * regime.in_pixel_scale
        except GalgenPSFError:  # a rare aberrated PSF whose half maximum is not one contour
            psf_fwhm = true_fwhm * dilation
        params = dict(params, true_psf_fwhm=true_fwhm)
    params = dict(params, offset_x=float(offset[0]), offset_y=float(offset[1]))
    return Pair(
        observation=observation.astype(np.float32),
        target=target.astype(np.float32),
        noise_rms=noise_rms,
        psf_fwhm=psf_fwhm,
        snr=snr,
        flux=flux,
        psf=psf_image / psf_image.sum(),
        regime=regime,
        params=params,
    )
