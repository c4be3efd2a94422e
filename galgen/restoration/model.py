"""Learned restorers: load shipped weights, condition on the PSF, tile, calibrate flux, sample.

The noise level conditions the network through its input: the asinh stretch
is in units of the noise RMS, so one set of weights serves every SNR; the PSF
FWHM (in target pixels) conditions it through FiLM layers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from galgen.errors import GalgenModelError, GalgenValueError
from galgen.metrics.consistency import reconvolve_to_observed, reconvolve_with_psf
from galgen.models.serialization import read_state
from galgen.preprocess.noise import WHITE, NoiseCorrelation
from galgen.restoration.bright import (
    BrightRegion,
    bright_regions,
    regions_note,
    restore_again,
    snr_outside,
    target_dominates,
)
from galgen.restoration.engine import PreparedObservation, Restoration, snr_estimate
from galgen.restoration.flux_scale import (
    aperture_scale,
    central_distance2,
    least_squares_scale,
    residual_scale,
    too_faint,
)
from galgen.restoration.inputs import (
    condition_vector,
    deconvolved_channel,
    network_input,
    stretch_target,
    unstretch_output,
)
from galgen.restoration.methods import check_ensemble
from galgen.restoration.networks import RestorerConfig, build_generator
from galgen.restoration.posterior import PosteriorSampler, draw_spread, load_posterior, posterior_directory
from galgen.restoration.regime import ModelRegime
from galgen.restoration.registry import find_model, load_model, save_untrained_model, shipped_models
from galgen.restoration.residual_light import RESIDUAL_LIGHT_DEFAULTS, ResidualLight, residual_light
from galgen.restoration.symmetry import dihedral, turned
from galgen.restoration.tiling import process_tiled

__all__ = ["LearnedRestorer", "shipped_models", "find_model", "load_model", "condition_vector",
           "save_untrained_model"]


#: The card's ``"flux_calibration"`` choices (see :class:`LearnedRestorer`).
FLUX_CALIBRATIONS = ("least_squares", "residual", "none")


def _light_note(light: ResidualLight, fraction: float) -> str:
    """HISTORY text of the light added back (:mod:`galgen.restoration.residual_light`); ``fraction``
    is its share of the output's flux (NaN when the output's total is not positive)."""
    share = f" ({100 * fraction:+.1f} % of the output's)" if np.isfinite(fraction) else ""
    return f"{light.flux:.4g} added in {light.regions} region{'s' * (light.regions != 1)}{share}"


#: Keyword options of :class:`LearnedRestorer` (what ``get_method`` accepts for a learned model).
LEARNED_OPTIONS = ("amp", "flux_calibrate", "tile", "batch_size", "calibrate_uncertainty", "uncertainty",
                   "ensemble")

#: How ``samples > 1`` makes the uncertainty map.
UNCERTAINTY_METHODS = ("auto", "posterior", "bootstrap")
#: With ``uncertainty="auto"``, inputs whose noise correlation widens wide sums by more than this
#: (:attr:`galgen.preprocess.NoiseCorrelation.sum_factor`) get the bootstrap, not the posterior
#: sampler: the sampler knows only the rms per pixel and under-covered correlated noise on
#: validation stamps (sdss set: 62.9 / 91.9 % at 1 / 2 sigma against the bootstrap's 78.3 / 93.9 %).
#: White-noise stamps read 1.0 (one in 84 read 1.34); the simulator's correlated noise 1.65-2.9.
SAMPLER_MAX_NOISE_FACTOR = 1.5


class LearnedRestorer:
    """A trained generator with its model card, behind the :class:`~galgen.restoration.engine.Restorer`
    protocol.

    Parameters
    ----------
    directory : path
        Holds ``model.safetensors`` and ``config.json`` (see
        :func:`galgen.models.serialization.save_module`).
    device : str or torch.device, default "cpu"
    amp : bool, default True
        On CUDA, run the generator under bfloat16 autocast (channels-last memory);
        ``False`` runs it in float32. Ignored on the CPU (always float32).
    flux_calibrate : bool, optional
        Scale each stamp's output so that its flux agrees with the observation's. How is the
        card's ``"flux_calibration"``, chosen on validation data: ``"least_squares"`` (the
        default; :meth:`flux_calibration`), ``"residual"`` (:meth:`residual_flux_scale`, with
        the card's ``"flux_residual"`` window and weight) or ``"none"`` (a model trained for
        photometry can be more accurate without it). Default: what the card says;
        ``True`` with a card that says ``"none"`` means least squares.
    tile : int, default 128
        Tile side for images larger than this (overlap set from the receptive field).
    batch_size : int, default 32
        Stamps per network pass.
    calibrate_uncertainty : bool, default True
        Apply the model card's ``uncertainty_calibration`` (fitted on validation data, see
        :mod:`galgen.evaluation.coverage`) to the bootstrap uncertainty map; ``False`` gives
        the raw spread.
    uncertainty : {"auto", "posterior", "bootstrap"}, default "auto"
        How ``samples > 1`` makes the uncertainty map: draws of the model's posterior sampler
        (``<model>/posterior``, :mod:`galgen.restoration.posterior`; "auto" uses it when the
        model ships one and the input's noise is not correlated beyond
        :data:`SAMPLER_MAX_NOISE_FACTOR`), or a noise bootstrap (the observation re-noised, with
        its own noise correlation, and restored again).
    ensemble : {1, 2, 4, 8}, optional
        Geometric self-ensemble: restore the image (with its PSF) turned and mirrored by this
        many symmetries of the square (:data:`galgen.restoration.symmetry.DIHEDRAL`), undo each,
        and average; ``ensemble`` times the network's work. Default: the model card's
        ``"ensemble"`` (1 unless chosen on validation data). The bootstrap's re-noised draws are
        restored without it (their spread then slightly over-states the ensemble's own; the
        calibration was fitted that way).
    residual_light : bool, optional
        Put back the light the restoration left in the data, where the residual shows it
        significantly (:mod:`galgen.restoration.residual_light`; ``GALGENLA``, ``HISTORY``
        ``residual_light``); its noise enters the uncertainty map in quadrature and the
        posterior draws carry it. Default: the card's ``"residual_light"`` (``false``, or a table
        overriding :data:`~galgen.restoration.residual_light.RESIDUAL_LIGHT_DEFAULTS`; on when
        absent); ``False`` turns it off.

    Notes
    -----
    A stamp brighter than the training regime (estimated SNR above the card's ``snr_range``
    maximum) whose target is its brightest source
    (:func:`~galgen.restoration.bright.target_dominates`; a faint target beside a bright star
    keeps its noise, and the stamp is flagged ``REGIME``: told the star's SNR the network erased
    the target) is restored as if it had that SNR: the network is given a noise level
    ``sigma * SNR / SNR_max`` (:meth:`network_noise`; the flux calibration, chi^2 and flags keep
    the true one). The networks were never shown such stamps and failed on them (``default_x2``
    on Sersic galaxies at SNR 1,500: 37 dB and a -22 % median flux error, at SNR 5,000: 30 dB and
    -80 %); declared noisier they restore them as at SNR 200 (51 dB, +1 %), with less detail than
    the data hold but no breakdown (docs/benchmarks.md, "Bright galaxies"). ``HISTORY`` records
    it (``snr_clamp``). That is for stamps up to twice the training stamp a side. A larger image
    (a field, a large galaxy's stamp) keeps its noise for its faint galaxies, and each part of it
    brighter, pixel by pixel, than the training range is restored again in a box around it, told
    a noise ``SNR / SNR_max`` times larger, and feathered in (:mod:`galgen.restoration.bright`;
    ``HISTORY`` ``snr_clamp`` lists them, and the bootstrap's re-noised copies get the same
    regions).

    Each instance owns its generator (move or compile it freely);
    :func:`~galgen.restoration.registry.load_model` shares only the immutable weights read from
    disk between instances.
    """

    def __init__(self, directory: str | os.PathLike, device: str | torch.device = "cpu", *,
                 amp: bool = True, flux_calibrate: bool | None = None, tile: int = 128, batch_size: int = 32,
                 calibrate_uncertainty: bool = True, uncertainty: str = "auto", ensemble: int | None = None,
                 residual_light: bool | None = None, _state: tuple[dict, dict] | None = None) -> None:
        self.directory = Path(directory)
        card, state = _state if _state is not None else read_state(self.directory)
        self.config = RestorerConfig(**card["architecture"])
        self.card = card
        self.name = card.get("name", self.directory.name)
        self.scale = self.config.scale
        self.device = torch.device(device)
        with torch.random.fork_rng(devices=[]):  # the initial weights are overwritten: leave the RNG alone
            self.generator = build_generator(self.config)
        try:
            self.generator.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            msg = f"{self.directory}: weights do not fit the card's architecture ({exc})"
            raise GalgenModelError(msg) from exc
        self.generator.to(self.device).eval()
        self.amp = amp
        mode = card.get("flux_calibration", "least_squares")
        if mode not in FLUX_CALIBRATIONS:
            msg = f"{self.directory}: the card's flux_calibration {mode!r} is not one of {FLUX_CALIBRATIONS}"
            raise GalgenModelError(msg)
        if flux_calibrate is None:
            flux_calibrate = mode != "none"
        #: how the flux is calibrated: "least_squares", "residual" or "none"
        self.flux_mode = ("least_squares" if mode == "none" else mode) if flux_calibrate else "none"
        self.tile = int(tile)
        self.batch_size = int(batch_size)
        self.calibrate_uncertainty = calibrate_uncertainty
        if uncertainty not in UNCERTAINTY_METHODS:
            msg = f"uncertainty must be one of {UNCERTAINTY_METHODS}, got {uncertainty!r}"
            raise GalgenValueError(msg)
        if uncertainty == "posterior" and posterior_directory(self.directory) is None:
            msg = (f"model {self.name!r} ships no posterior sampler ({self.directory}/posterior); "
                   "use uncertainty='bootstrap'")
            raise GalgenModelError(msg)
        self.uncertainty = uncertainty
        self.ensemble = check_ensemble(int(card.get("ensemble", 1)) if ensemble is None else ensemble)
        self._posterior = None
        if self.device.type == "cuda":
            self.generator.to(memory_format=torch.channels_last)
        self.sha256 = self.model_hash = card["sha256"]
        #: the card's training regime (a mapping of its table, and the checks that follow from it)
        self.regime = ModelRegime(self.name, card.get("regime", {}), self.scale,
                                  reads_psf=self.config.deconvolved_input)
        # a card may turn the bright-stamp clamp off ("snr_clamp": false: benchmarks/restoration.py
        # compares the two on the bright sets)
        self.snr_clamp = bool(card.get("snr_clamp", True))
        # how a clamped (bright) stamp's flux is calibrated: "card" (the card's flux_calibration, as
        # for any stamp) or "aperture" (aperture_flux_scale; on validation bright stamps 0.30-0.33 %
        # against 1.02-1.20 %, but 0.06 dB lower PSNR on one set: rejected by the 0.05 dB rule)
        self.bright_flux = str(card.get("bright_flux_calibration", "card"))
        # light left in the data (galgen.restoration.residual_light): the card's settings
        # ("residual_light": false, or a dict overriding RESIDUAL_LIGHT_DEFAULTS), or off
        light = card.get("residual_light", True)
        if residual_light is False or light is False:
            self.residual_light: dict | None = None
        elif isinstance(light, dict) or light is True:
            unknown = set(light) - set(RESIDUAL_LIGHT_DEFAULTS) if isinstance(light, dict) else set()
            if unknown:
                msg = (f"{self.directory}: the card's residual_light has unknown keys {sorted(unknown)}; "
                       f"known: {sorted(RESIDUAL_LIGHT_DEFAULTS)}")
                raise GalgenModelError(msg)
            self.residual_light = {**RESIDUAL_LIGHT_DEFAULTS, **(light if isinstance(light, dict) else {})}
        else:
            msg = f"{self.directory}: the card's residual_light must be true, false or a table, got {light!r}"
            raise GalgenModelError(msg)

    @property
    def target_psf_fwhm(self) -> float:
        """FWHM of the restored images' PSF (the training target's Gaussian), arcsec, at the
        training pixel scale (see :meth:`target_fwhm_at` for a model working in pixel units)."""
        return self.regime.target_psf_fwhm

    @property
    def any_pixel_scale(self) -> bool:
        """Whether the model works in pixel units (its regime holds at any pixel scale)."""
        return self.regime.any_pixel_scale

    @property
    def flux_calibrate(self) -> bool:
        """Whether each stamp's flux is calibrated (:attr:`flux_mode` is not ``"none"``)."""
        return self.flux_mode != "none"

    def target_fwhm_at(self, pixel_scale: float) -> float:
        """FWHM (arcsec) of the restored image's PSF for an observation at ``pixel_scale`` arcsec
        (:meth:`galgen.restoration.regime.ModelRegime.target_fwhm_at`)."""
        return self.regime.target_fwhm_at(pixel_scale)

    @property
    def target_fwhm_pix(self) -> float:
        """Target PSF FWHM in output pixels."""
        return self.regime.target_fwhm_pix

    @property
    def posterior(self) -> PosteriorSampler | None:
        """The model's posterior sampler (loaded on first use), or ``None`` when it ships none or
        ``uncertainty="bootstrap"``. A sampler trained for other weights is an error."""
        if self.uncertainty == "bootstrap":
            return None
        if self._posterior is None:
            directory = posterior_directory(self.directory)
            if directory is None:
                return None
            sampler = load_posterior(directory, self.device)
            if sampler.card.get("restorer_sha256") != self.sha256:
                msg = (f"{directory}: posterior sampler trained for other weights (sha256 "
                       f"{str(sampler.card.get('restorer_sha256'))[:12]}, this model {self.sha256[:12]}); "
                       "retrain it or use uncertainty='bootstrap'")
                raise GalgenModelError(msg)
            self._posterior = sampler
        return self._posterior

    def posterior_draws(self, observation: np.ndarray, noise_rms: float, psf_fwhm: float,
                        pixel_scale: float, n: int, *, psf: np.ndarray | None = None,
                        restored: np.ndarray | None = None, seed: int | None = 0) -> np.ndarray:
        """``n`` draws of the restored image from the posterior sampler: ``(n, sH, sW)`` flux per
        output pixel (before flux calibration). ``restored`` is :meth:`predict`'s output when the
        caller has it; ``seed`` seeds the draws (``None``: fresh)."""
        sampler = self.posterior
        if sampler is None:
            msg = f"model {self.name!r} has no posterior sampler in use"
            raise GalgenModelError(msg)
        s, softening = self.config.scale, self.config.softening
        x = self.network_input(observation, noise_rms, psf_fwhm, pixel_scale, psf)
        if restored is None:
            restored = self.predict(observation, noise_rms, psf_fwhm, pixel_scale, psf=psf)
        y = stretch_target(np.asarray(restored, np.float64), noise_rms, softening, s)
        generator = torch.Generator()
        generator.manual_seed(int(seed) if seed is not None else int(torch.seed()))
        draws = sampler.sample(torch.from_numpy(x[None].astype(np.float32)),
                               torch.from_numpy(y[None, None].astype(np.float32)),
                               torch.from_numpy(condition_vector(psf_fwhm, pixel_scale / s)[None]), n,
                               generator=generator)
        return unstretch_output(draws[:, 0, 0].numpy().astype(np.float64), noise_rms, softening, s)

    def network_input(self, observation: np.ndarray, noise_rms: float, psf_fwhm: float,
                      pixel_scale: float, psf: np.ndarray | None = None) -> np.ndarray:
        """What the generator sees for one image: ``(C, H, W)``
        (:func:`galgen.restoration.inputs.network_input`). Models with a deconvolved input
        channel deconvolve with ``psf`` (at the observation's pixel scale), or without one with
        a Moffat of ``psf_fwhm`` arcsec and the training regime's beta."""
        obs = np.asarray(observation, np.float64)
        deconvolved = None
        if self.config.deconvolved_input:
            if psf is None:
                from galgen.psf.models import default_psf_size, moffat_psf

                fwhm_pix = psf_fwhm / pixel_scale
                psf = moffat_psf(fwhm_pix, min(default_psf_size(fwhm_pix, 6.0), (min(obs.shape) - 1) | 1),
                                 beta=float(self.regime.get("moffat_beta", 3.5)))
            deconvolved = deconvolved_channel(obs, psf, self.config.scale, self.target_fwhm_pix)
        return network_input(obs, noise_rms, self.config.softening, self.config.scale, deconvolved)

    def compile(self) -> LearnedRestorer:
        """Wrap the generator with ``torch.compile`` (worth it for long GPU runs; the first
        batches of each shape are slow while it compiles)."""
        self.generator = torch.compile(self.generator)
        return self

    # -- core ---------------------------------------------------------------------------
    def _forward(self, stretched: np.ndarray, condition: np.ndarray) -> np.ndarray:
        return self._forward_batch(stretched[None], condition[None])[0]

    def predict(self, observation: np.ndarray, noise_rms: float, psf_fwhm: float,
                pixel_scale: float, *, tile: int | None = None, psf: np.ndarray | None = None,
                ensemble: int | None = None) -> np.ndarray:
        """Restore one image (no calibration, no sampling).

        Parameters
        ----------
        observation : numpy.ndarray
            ``(H, W)`` finite, background-subtracted, flux per pixel.
        noise_rms : float
            Background noise, same units.
        psf_fwhm : float
            Observing PSF FWHM, arcsec.
        pixel_scale : float
            Observation pixel scale, arcsec.
        tile : int, optional
            Tile side for large images (default: the instance's ``tile``).
        psf : numpy.ndarray, optional
            The PSF image at ``pixel_scale`` (used by models with a deconvolved input channel).
        ensemble : int, optional
            Symmetries averaged over (default: the instance's ``ensemble``).

        Returns
        -------
        numpy.ndarray
            ``(sH, sW)`` flux per output pixel, same units as ``observation``.
        """
        s = self.config.scale
        softening = self.config.softening
        condition = condition_vector(psf_fwhm, pixel_scale / s)
        radius = getattr(self.generator, "receptive_radius", 24)
        n = self.ensemble if ensemble is None else ensemble
        total = None
        for k in range(n):
            x = self.network_input(dihedral(observation, k), noise_rms, psf_fwhm, pixel_scale,
                                   turned(psf, k))
            y = process_tiled(x, lambda t: self._forward(t, condition), scale=s, tile=tile or self.tile,
                              overlap=2 * radius + 12, margin=radius + 2)
            y = dihedral(unstretch_output(y, noise_rms, softening, s, out=y), k, inverse=True)  # in place
            total = y if total is None else np.add(total, y, out=total)  # the mean of fluxes (y is new)
        if n > 1:
            total /= n
        return total

    def _aperture(self, shape: tuple[int, int], radius_arcsec: float,
                  pixel_scale: float) -> tuple[np.ndarray, np.ndarray]:
        """``(r2, inside)``: each input pixel's squared distance from the stamp centre, and the flux
        aperture of ``radius_arcsec`` (at the training pixel scale for a pixel-unit model: the same
        aperture in pixels at any sampling)."""
        r2 = central_distance2(shape)
        radius = radius_arcsec * self.regime.sampling_ratio(pixel_scale) / pixel_scale
        return r2, r2 <= radius**2

    def flux_calibration(self, observation: np.ndarray, restored: np.ndarray, noise_rms: float,
                         psf_fwhm: float, pixel_scale: float, radius_arcsec: float = 3.0,
                         predicted: np.ndarray | None = None) -> float:
        """Least-squares flux scale ``alpha`` of ``A(restored)`` against the observation.

        ``alpha = sum(m A(x) d) / sum(m A(x)^2)`` over pixels ``m`` within
        ``radius_arcsec`` of the stamp centre (for a pixel-unit model, at its training pixel
        scale: the radius scales with the pixel), where ``A`` re-convolves and bins
        (see :mod:`galgen.restoration.physics`): the chi^2-optimal, noise-weighted
        flux estimate through the PSF (:func:`galgen.restoration.flux_scale.least_squares_scale`).
        Returns 1 when the data do not constrain it. ``predicted`` is ``A(restored)`` when the
        caller has it already.
        """
        if predicted is None:
            predicted = self.reconvolve(restored, psf_fwhm, pixel_scale)
        _, inside = self._aperture(observation.shape, radius_arcsec, pixel_scale)
        return least_squares_scale(observation, predicted, inside, noise_rms)

    def aperture_flux_scale(self, observation: np.ndarray, restored: np.ndarray, noise_rms: float,
                            psf_fwhm: float, pixel_scale: float, radius_arcsec: float = 3.0,
                            predicted: np.ndarray | None = None) -> float:
        """Flux scale ``alpha = sum(m d) / sum(m A(x))``: the observation's own flux in the
        aperture of :meth:`flux_calibration` over that of the restoration blurred back
        (:func:`galgen.restoration.flux_scale.aperture_scale`). Used for stamps brighter than the
        training regime (:meth:`network_noise`) when the card says
        ``"bright_flux_calibration": "aperture"``: there the aperture sum is nearly noise-free,
        while the other calibrations lean on the restored shape, smoother than such data (the
        least-squares scale, weighted to the core, came out 3-5 % high on ``survey_x4``). On
        validation bright stamps (seed 9,000,000, 60 a set) it gave 0.30 / 0.33 % median flux
        error against 1.20 / 1.02 % (``bright`` / ``sdss_bright``) but 0.06 dB lower PSNR on
        ``bright``, so the shipped cards keep their own calibration (the rule allows 0.05 dB).
        Returns 1 when the data do not constrain it (as :meth:`flux_calibration`) or the scale
        would leave 0.5-2."""
        if predicted is None:
            predicted = self.reconvolve(restored, psf_fwhm, pixel_scale)
        _, inside = self._aperture(observation.shape, radius_arcsec, pixel_scale)
        return aperture_scale(observation, predicted, inside, noise_rms)

    def residual_flux_scale(self, observation: np.ndarray, restored: np.ndarray, noise_rms: float,
                            psf_fwhm: float, pixel_scale: float, radius_arcsec: float = 3.0,
                            predicted: np.ndarray | None = None) -> float:
        """Flux scale ``alpha = 1 + w sum(g (d - A(x))) / F(x)``: the restoration's own flux ``F(x)``
        in the aperture of :meth:`flux_calibration`, corrected by a share ``w`` of the light it
        leaves in the residual, summed in a Gaussian window ``g`` about the centre
        (:func:`galgen.restoration.flux_scale.residual_scale`).

        Window (``sigma``, arcsec at the training pixel scale) and ``w`` are the card's
        ``"flux_residual"`` (``window_arcsec``, ``weight``), fitted on development pairs and chosen
        on validation pairs (the card's ``flux_calibration_choice``). Returns 1 when the data do
        not constrain it (as :meth:`flux_calibration`) or the scale would leave 0.5-2.

        Parameters
        ----------
        observation : numpy.ndarray
            ``(h, w)`` sky-subtracted observation.
        restored : numpy.ndarray
            ``(s h, s w)`` restoration, flux per output pixel.
        noise_rms : float
            Noise rms per input pixel.
        psf_fwhm, pixel_scale : float
            Observing PSF FWHM and input pixel scale, arcsec.
        radius_arcsec : float, default 3
            Aperture radius at the training pixel scale.
        predicted : numpy.ndarray, optional
            ``A(restored)`` ``(h, w)`` when the caller has it already.

        Returns
        -------
        float
        """
        from galgen.metrics.photometry import aperture_flux

        params = self.card.get("flux_residual") or {}
        try:
            window, weight = float(params["window_arcsec"]), float(params["weight"])
        except (KeyError, TypeError, ValueError) as exc:
            msg = (f"{self.directory}: flux_calibration 'residual' needs flux_residual.window_arcsec and "
                   ".weight in the card")
            raise GalgenModelError(msg) from exc
        if predicted is None:
            predicted = self.reconvolve(restored, psf_fwhm, pixel_scale)
        r2, inside = self._aperture(observation.shape, radius_arcsec, pixel_scale)
        if too_faint(predicted, inside, noise_rms):
            return 1.0
        ratio = self.regime.sampling_ratio(pixel_scale) / pixel_scale  # input pixels per training arcsec
        own = aperture_flux(restored, radius_arcsec * ratio * self.scale)
        return residual_scale(observation, predicted, own, r2, window * ratio, weight)

    def reconvolve(self, restored: np.ndarray, psf_fwhm: float, pixel_scale: float,
                   psf: np.ndarray | None = None) -> np.ndarray:
        """``A(restored)``: the restoration blurred back to the observed PSF and grid; through the
        PSF image (:func:`galgen.metrics.consistency.reconvolve_with_psf`) for models that take
        one as input, else a Moffat of ``psf_fwhm``."""
        s = self.config.scale
        if psf is not None and self.config.deconvolved_input:
            from galgen.metrics.consistency import reconvolve_with_psf

            return reconvolve_with_psf(restored, psf, pixel_scale, s, self.target_fwhm_at(pixel_scale))
        return reconvolve_to_observed(restored, psf_fwhm, pixel_scale / s, s,
                                      self.target_fwhm_at(pixel_scale),
                                      float(self.regime.get("moffat_beta", 3.5)))

    def network_noise(self, noise_rms: float, snr: float) -> float:
        """The noise level the network is given: ``noise_rms``, or for a stamp brighter than the
        training regime (``snr`` above the card's ``snr_range`` maximum) ``noise_rms * snr /
        max``, so that the network sees the SNR it was trained up to (see the class notes)."""
        top = self.regime.snr_top
        bright = self.snr_clamp and np.isfinite(snr) and snr > top
        return float(noise_rms * snr / top) if bright else float(noise_rms)

    def regime_distance(self, psf_fwhm: float, pixel_scale: float, psf: np.ndarray | None = None,
                        psf_model: str = "image") -> tuple[bool, bool, float]:
        """How far an input is from the training regime, for choosing among models none of which
        holds it (:meth:`galgen.restoration.regime.ModelRegime.distance`)."""
        return self.regime.distance(psf_fwhm, pixel_scale, psf, psf_model)

    def regime_problems(self, psf_fwhm: float, pixel_scale: float, snr: float | None,
                        psf: np.ndarray | None = None, psf_model: str = "image") -> str:
        """Why the input lies outside the training regime (``""`` when it does not;
        :meth:`galgen.restoration.regime.ModelRegime.problems`). ``snr`` is the SNR the network
        saw: a bright stamp told a larger noise (:meth:`network_noise`) is in range."""
        return self.regime.problems(psf_fwhm, pixel_scale, snr, psf, psf_model)

    @torch.inference_mode()
    def _forward_batch(self, stretched: np.ndarray, conditions: np.ndarray) -> np.ndarray:
        """``(B, C, H, W)`` network inputs (or ``(B, H, W)`` for one channel) -> ``(B, sH, sW)``."""
        x = torch.from_numpy(np.ascontiguousarray(stretched, np.float32))
        x = (x[:, None] if x.dim() == 3 else x).to(self.device)
        c = torch.from_numpy(np.ascontiguousarray(conditions, np.float32)).to(self.device)
        if self.device.type == "cuda":
            x = x.to(memory_format=torch.channels_last)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.amp and self.device.type == "cuda"):
            y = self.generator(x, c)
        return y[:, 0].float().cpu().numpy().astype(np.float64)

    def predict_many(self, observations: list[np.ndarray], noise_rms: list[float],
                     psf_fwhm: list[float], pixel_scale: float, *, tile: int | None = None,
                     batch_size: int | None = None, psfs: list[np.ndarray | None] | None = None,
                     ensemble: int | None = None) -> list[np.ndarray]:
        """:meth:`predict` for many images, stacking equal-shaped stamps into batches
        (``psfs``: each image's PSF, for models with a deconvolved input channel; ``ensemble``:
        symmetries averaged over, default the instance's)."""
        s, softening = self.config.scale, self.config.softening
        psfs = psfs if psfs is not None else [None] * len(observations)
        tile = tile or self.tile
        n = self.ensemble if ensemble is None else ensemble
        per_pass = max(1, (batch_size or self.batch_size) // n)  # stamps per pass: n views of each
        out: list[np.ndarray | None] = [None] * len(observations)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, obs in enumerate(observations):
            # quarter turns transpose an oblong stamp: its views cannot share a batch
            if max(obs.shape) <= tile and (n <= 4 or obs.shape[0] == obs.shape[1]):
                groups.setdefault(obs.shape, []).append(i)
            else:
                out[i] = self.predict(obs, noise_rms[i], psf_fwhm[i], pixel_scale, tile=tile, psf=psfs[i],
                                      ensemble=n)
        for indices in groups.values():
            for start in range(0, len(indices), per_pass):
                chunk = indices[start:start + per_pass]
                views = [(i, k) for i in chunk for k in range(n)]  # every stamp's n views, side by side
                x = np.stack([self.network_input(dihedral(observations[i], k), noise_rms[i], psf_fwhm[i],
                                                 pixel_scale, turned(psfs[i], k)) for i, k in views])
                c = np.stack([condition_vector(psf_fwhm[i], pixel_scale / s) for i, _ in views])
                y = self._forward_batch(x, c)
                fluxes = [dihedral(unstretch_output(yv, noise_rms[i], softening, s), k, inverse=True)
                          for (i, k), yv in zip(views, y, strict=True)]
                for j, i in enumerate(chunk):  # the mean of the views' fluxes
                    out[i] = np.mean(fluxes[j * n:(j + 1) * n], axis=0)
        return out  # type: ignore[return-value]

    def restore_batch(self, observations: Sequence[PreparedObservation], *, samples: int = 1,
                      seed: int | None = 0) -> list[Restoration]:
        """Restore prepared observations of one pixel scale, with batched network passes.

        Each result records ``regime_warning`` (``""`` inside the training regime); it is
        not raised here, so that worker threads and processes never touch Python's
        process-wide warning filters (:func:`galgen.restore` warns on the caller's thread).

        ``samples > 1`` adds a per-pixel standard deviation. With a posterior sampler (the
        model ships ``posterior/`` and ``uncertainty`` is not ``"bootstrap"``; stamps up to
        twice the training size), ``samples`` draws from ``p(truth | observation, PSF, noise)``
        (``seed``: a ``torch.Generator`` seed per stamp): the map is their root-mean-square
        deviation about the main image, which stays the deterministic restoration, and the draws
        are kept in :attr:`Restoration.draws`. Otherwise a parametric bootstrap: the observation
        is re-noised ``samples`` times with its own noise level and its own correlation between
        pixels (:attr:`PreparedObservation.noise_correlation`; ``seed``: a
        ``numpy.random.default_rng`` seed per stamp) and restored each time; the spread measures
        how much the restoration depends on the noise. When the card (the sampler's card for
        draws) holds an ``uncertainty_calibration`` (and ``calibrate_uncertainty``), it is applied
        as fitted on validation data (:mod:`galgen.evaluation.coverage`).
        """
        if not observations:
            return []
        pixel_scale = observations[0].pixel_scale
        if any(o.pixel_scale != pixel_scale for o in observations):  # mixed scales: one by one
            return [r for o in observations for r in self.restore_batch([o], samples=samples, seed=seed)]
        data = [o.data for o in observations]
        noise = [o.noise_rms for o in observations]
        fwhm = [o.psf_fwhm_arcsec for o in observations]
        psfs = [o.psf for o in observations]
        in_size = self.regime.in_size
        snrs = [snr_estimate(o.data, o.noise_rms, o.noise_correlation.sum_factor, o.mask, window=in_size)
                for o in observations]
        # stamps only, whose target is their brightest source: a field's faint galaxies, and a faint
        # target beside a bright star, keep their noise (told the star's SNR, the network erased the
        # target: -75 % of its flux). The target is looked for only on stamps above the range.
        stamps = [max(o.data.shape) <= 2 * in_size for o in observations]  # the rest: larger images
        declared = []
        for o, snr, small in zip(observations, snrs, stamps, strict=True):
            told = self.network_noise(o.noise_rms, snr) if small else o.noise_rms
            declared.append(told if told == o.noise_rms or target_dominates(o) else o.noise_rms)
        restored = self.predict_many(data, declared, fwhm, pixel_scale, psfs=psfs)
        # larger images: their sources above the range restored again as at its top
        # (galgen.restoration.bright)
        bright_regions_of = [[] if small else self._bright_regions(o)
                             for o, small in zip(observations, stamps, strict=True)]
        seen = list(snrs)  # the SNR the network saw, for the regime check
        for i, (o, regions) in enumerate(zip(observations, bright_regions_of, strict=True)):
            if regions:
                restored[i] = self._restore_regions(o.data, restored[i], regions, o.noise_rms, fwhm[i],
                                                    pixel_scale, psfs[i])
                seen[i] = snr_outside(o, regions, in_size, self.regime.snr_top)
        results = []
        for prepared, obs, sigma, psf_fwhm, psf, rest, snr, told, small, regions, snr_seen in zip(
                observations, data, noise, fwhm, psfs, restored, snrs, declared, stamps, bright_regions_of,
                seen, strict=True):
            alpha, predicted = 1.0, None
            if small and (self.flux_calibrate or self.config.deconvolved_input):
                # a PSF-aware model's chi^2 goes through the PSF image: computed here, reused below
                predicted = self.reconvolve(rest, psf_fwhm, pixel_scale, psf)
            bright = told != sigma and self.bright_flux == "aperture"  # told != sigma: a small stamp
            if self.flux_mode != "none" and bright:
                alpha = self.aperture_flux_scale(obs, rest, sigma, psf_fwhm, pixel_scale, predicted=predicted)
            elif self.flux_mode == "residual" and small:
                alpha = self.residual_flux_scale(obs, rest, sigma, psf_fwhm, pixel_scale, predicted=predicted)
            elif self.flux_mode == "least_squares" and small:
                alpha = self.flux_calibration(obs, rest, sigma, psf_fwhm, pixel_scale, predicted=predicted)
            std, kept, how = None, None, None
            if samples > 1:
                std, kept, how = self._uncertainty(obs, sigma, psf_fwhm, pixel_scale, psf, rest, alpha,
                                                   samples, seed, small, prepared.noise_correlation,
                                                   network_noise=told, regions=regions)
            final = rest * alpha
            reconvolved = None if predicted is None else alpha * predicted
            light, light_fraction = None, float("nan")
            if self.residual_light is not None:
                # the residual through the PSF image (a Moffat blur-back leaves the core and wings of
                # any other PSF in the residual, which then reads as light to move)
                through_psf = reconvolved
                if through_psf is None or not self.config.deconvolved_input:
                    through_psf = reconvolve_with_psf(final, psf, pixel_scale, self.scale,
                                                      self.target_fwhm_at(pixel_scale))
                light = residual_light(obs, through_psf, sigma, prepared.psf_fwhm_pix, self.scale,
                                       noise_factor=prepared.noise_correlation.sum_factor,
                                       valid=~prepared.mask, **self.residual_light)
                light_fraction = 0.0
                if light.regions:
                    final = final + light.correction
                    if reconvolved is not None:
                        reconvolved = reconvolved + self.reconvolve(light.correction, psf_fwhm,
                                                                    pixel_scale, psf)
                    if std is not None:  # the added light's own noise, in quadrature
                        std = np.sqrt(std**2 + light.noise**2)
                    if kept is not None:
                        kept = (kept + light.correction).astype(np.float32)
                    total = float(np.sum(final))
                    light_fraction = light.flux / total if total > 0 else float("nan")
            results.append(Restoration(
                final, std, self.name, model_hash=self.sha256,
                psf_fwhm=self.target_fwhm_at(pixel_scale),
                flux_scale=alpha, snr_estimate=snr,
                # the SNR the network saw: the stamp's, over the noise it was told
                regime_warning=self.regime_problems(psf_fwhm, pixel_scale, snr_seen * sigma / told, psf,
                                                    prepared.psf_model),
                # A(alpha x + light) = alpha A(x) + A(light): the chi^2 of finalize() reuses it
                reconvolved=reconvolved,
                params={"flux_calibrate": ("aperture (bright)" if bright else self.flux_mode)
                        if self.flux_calibrate else False,
                        **({"snr_clamp": f"SNR {snr:.0f} restored as {snr * sigma / told:.0f} (noise "
                                         f"x{told / sigma:.3g})"} if told != sigma else {}),
                        **({"snr_clamp": regions_note(regions)} if regions else {}),
                        **({"ensemble": self.ensemble} if self.ensemble > 1 else {}),
                        **({"residual_light": _light_note(light, light_fraction)}
                           if light is not None and light.regions else {}),
                        **({"uncertainty": how} if how else {})},
                draws=kept, light_fraction=light_fraction))
        return results

    def _bright_regions(self, prepared: PreparedObservation) -> list[BrightRegion]:
        """The sources of a large image above the card's SNR range (none with the clamp off;
        :func:`galgen.restoration.bright.bright_regions`)."""
        top = self.regime.snr_top
        if not self.snr_clamp or not np.isfinite(top):
            return []
        fwhm = prepared.psf_fwhm_pix
        radius = getattr(self.generator, "receptive_radius", 24)
        # room for the network's reach, the feathering (blend_weights: 2 x a Gaussian of one FWHM
        # falls under 1e-3 within 3.3 FWHMs) and a deconvolved input channel's edge ringing
        ringing = int(np.ceil(4 * fwhm)) if self.config.deconvolved_input else 0
        margin = radius + 2 + int(np.ceil(3.3 * max(fwhm, 1.0))) + ringing
        return bright_regions(prepared.data, prepared.noise_rms, fwhm, top=top,
                              window=self.regime.in_size,
                              noise_factor=prepared.noise_correlation.sum_factor, mask=prepared.mask,
                              margin=margin)

    def _restore_regions(self, observation: np.ndarray, restored: np.ndarray, regions: Sequence[BrightRegion],
                         noise_rms: float, psf_fwhm: float, pixel_scale: float, psf: np.ndarray | None,
                         ensemble: int | None = None) -> np.ndarray:
        """:func:`galgen.restoration.bright.restore_again` with this model's :meth:`predict`."""
        def predict(box: np.ndarray, told: float) -> np.ndarray:
            return self.predict(box, told, psf_fwhm, pixel_scale, psf=psf, ensemble=ensemble)

        top = self.regime.snr_top
        return restore_again(predict, observation, restored, regions, noise_rms, top=top, scale=self.scale,
                             feather=max(psf_fwhm / pixel_scale, 1.0))

    def _uncertainty(self, obs: np.ndarray, sigma: float, psf_fwhm: float, pixel_scale: float,
                     psf: np.ndarray | None, rest: np.ndarray, alpha: float, samples: int,
                     seed: int | None, small: bool, correlation: NoiseCorrelation = WHITE,
                     network_noise: float | None = None,
                     regions: Sequence[BrightRegion] = ()) -> tuple[np.ndarray, np.ndarray | None, str]:
        """``(std, draws or None, how)`` of one stamp (see :meth:`restore_batch`); the bootstrap
        re-noises with the observation's own noise ``sigma`` and ``correlation`` and restores
        each copy as the stamp was (with ``network_noise``, :meth:`network_noise`); the sampler
        is given ``network_noise`` (a stamp brighter than the training regime gets the spread
        of one at its maximum SNR: larger than its own)."""
        from galgen.evaluation.coverage import apply_uncertainty_calibration

        told = sigma if network_noise is None else network_noise
        sampler = self.posterior if small else None  # mosaics: the bootstrap (the sampler is untiled)
        if self.uncertainty == "auto" and correlation.sum_factor > SAMPLER_MAX_NOISE_FACTOR:
            sampler = None  # the sampler was not taught correlated noise; the bootstrap re-noises with it
        if sampler is not None:
            draws = alpha * self.posterior_draws(obs, told, psf_fwhm, pixel_scale, samples, psf=psf,
                                                 restored=rest, seed=seed)
            std = draw_spread(draws, alpha * rest)
            calibration = sampler.card.get("uncertainty_calibration") if self.calibrate_uncertainty else None
            return (apply_uncertainty_calibration(std, alpha * rest, calibration), draws.astype(np.float32),
                    f"posterior {sampler.sha256[:12]}")
        rng = np.random.default_rng(seed)
        copies = [obs + correlation.draw(obs.shape, sigma, rng) for _ in range(samples)]
        draws = self.predict_many(copies, [told] * samples, [psf_fwhm] * samples, pixel_scale,
                                  psfs=[psf] * samples, ensemble=1)
        # the bright sources of each copy restored again as the image's were (the same regions)
        draws = [self._restore_regions(c, d, regions, sigma, psf_fwhm, pixel_scale, psf, ensemble=1)
                 if regions else d for c, d in zip(copies, draws, strict=True)]
        std = alpha * np.std(draws, axis=0, ddof=1)
        calibration = self.card.get("uncertainty_calibration") if self.calibrate_uncertainty else None
        return (apply_uncertainty_calibration(std, alpha * rest, calibration, per_bin=small), None,
                "bootstrap")
