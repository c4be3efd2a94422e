"""Learned restorers: load shipped weights, condition on the PSF, tile, calibrate flux, sample.

The noise level conditions the network through its input: the asinh stretch
is in units of the noise RMS, so one set of weights serves every SNR; the PSF
FWHM (in target pixels) conditions it through FiLM layers.
"""

from __future__ import annotations

import os
import warnings
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from galgen.errors import GalgenModelError, GalgenRegimeWarning
from galgen.metrics.consistency import reconvolve_to_observed
from galgen.models.serialization import load_state, read_config
from galgen.preprocess.normalize import AsinhStretch
from galgen.restore.networks import RestorerConfig, build_generator
from galgen.restore.tiling import process_tiled

__all__ = ["LearnedRestorer", "shipped_models", "load_model", "condition_vector", "save_untrained_model"]


def condition_vector(psf_fwhm_arcsec: float, out_pixel_scale: float) -> np.ndarray:
    """``(1,)`` conditioning: observing PSF FWHM in *target* pixels, divided by 10."""
    return np.array([psf_fwhm_arcsec / out_pixel_scale / 10.0], np.float32)


def shipped_models() -> dict[str, Path]:
    """Weight sets shipped inside the package (``galgen/weights/<name>/``)."""
    root = Path(str(resources.files("galgen") / "weights"))
    return {p.name: p for p in sorted(root.iterdir()) if (p / "model.safetensors").is_file()}


class LearnedRestorer:
    """A trained generator with its model card.

    Parameters
    ----------
    directory : path
        Holds ``model.safetensors`` and ``config.json`` (see
        :func:`galgen.models.serialization.save_module`).
    device : str or torch.device, default "cpu"
    amp : bool, default True
        On CUDA, run the generator under bfloat16 autocast (channels-last memory);
        ``False`` runs it in float32. Ignored on the CPU (always float32).
    """

    def __init__(self, directory: str | os.PathLike, device: str | torch.device = "cpu", *,
                 amp: bool = True) -> None:
        self.directory = Path(directory)
        card = read_config(self.directory)
        self.config = RestorerConfig(**card["architecture"])
        self.card = card
        self.name = card.get("name", self.directory.name)
        self.device = torch.device(device)
        self.generator = build_generator(self.config)
        load_state(self.generator, self.directory, device="cpu")
        self.generator.to(self.device).eval()
        self.amp = amp
        if self.device.type == "cuda":
            self.generator.to(memory_format=torch.channels_last)
        self.sha256 = card["sha256"]
        self.regime = card.get("regime", {})

    def compile(self) -> LearnedRestorer:
        """Wrap the generator with ``torch.compile`` (worth it for long GPU runs; the first
        batches of each shape are slow while it compiles)."""
        self.generator = torch.compile(self.generator)
        return self

    # -- core ---------------------------------------------------------------------------
    def _forward(self, stretched: np.ndarray, condition: np.ndarray) -> np.ndarray:
        return self._forward_batch(stretched[None], condition[None])[0]

    def predict(self, observation: np.ndarray, noise_rms: float, psf_fwhm: float,
                pixel_scale: float, *, tile: int = 128) -> np.ndarray:
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
        tile : int, default 128
            Tile side for large images (overlap set from the receptive field).

        Returns
        -------
        numpy.ndarray
            ``(sH, sW)`` flux per output pixel, same units as ``observation``.
        """
        s = self.config.scale
        stretch = AsinhStretch(noise_rms, self.config.softening)
        condition = condition_vector(psf_fwhm, pixel_scale / s)
        radius = getattr(self.generator, "receptive_radius", 24)
        y = process_tiled(stretch.forward(np.asarray(observation, np.float64)),
                          lambda t: self._forward(t, condition), scale=s, tile=tile,
                          overlap=2 * radius + 12, margin=radius + 2)
        np.sinh(y, out=y)  # the inverse stretch, in place (mosaics are large)
        y *= stretch.scale / s**2
        return y

    def flux_calibration(self, observation: np.ndarray, restored: np.ndarray, noise_rms: float,
                         psf_fwhm: float, pixel_scale: float, radius_arcsec: float = 3.0,
                         predicted: np.ndarray | None = None) -> float:
        """Least-squares flux scale ``alpha`` of ``A(restored)`` against the observation.

        ``alpha = sum(m A(x) d) / sum(m A(x)^2)`` over pixels ``m`` within
        ``radius_arcsec`` of the stamp centre, where ``A`` re-convolves and bins
        (see :mod:`galgen.restore.physics`): the chi^2-optimal, noise-weighted
        flux estimate through the PSF. Returns 1 when the data do not constrain it.
        ``predicted`` is ``A(restored)`` when the caller has it already.
        """
        if predicted is None:
            predicted = self.reconvolve(restored, psf_fwhm, pixel_scale)
        yy, xx = np.indices(observation.shape)
        cy, cx = (observation.shape[0] - 1) / 2, (observation.shape[1] - 1) / 2
        m = (yy - cy) ** 2 + (xx - cx) ** 2 <= (radius_arcsec / pixel_scale) ** 2
        denom = float(np.sum(predicted[m] ** 2))
        if denom <= 0 or np.sum(predicted[m]) < 5 * noise_rms * np.sqrt(m.sum()):
            return 1.0  # too faint to calibrate reliably
        alpha = float(np.sum(predicted[m] * observation[m]) / denom)
        return alpha if 0.5 < alpha < 2.0 else 1.0

    def reconvolve(self, restored: np.ndarray, psf_fwhm: float, pixel_scale: float) -> np.ndarray:
        """``A(restored)``: the restoration blurred back to the observed PSF and grid."""
        s = self.config.scale
        return reconvolve_to_observed(restored, psf_fwhm, pixel_scale / s, s,
                                      float(self.regime.get("target_psf_fwhm", 0.2)),
                                      float(self.regime.get("moffat_beta", 3.5)))

    def regime_problems(self, psf_fwhm: float, pixel_scale: float, snr: float | None) -> str:
        """Why the input lies outside the training regime (``""`` when it does not)."""
        r = self.regime
        problems = []
        lo, hi = r.get("psf_fwhm_range", (0, np.inf))
        if not lo * 0.95 <= psf_fwhm <= hi * 1.05:
            problems.append(f"PSF FWHM {psf_fwhm:.3g} arcsec (trained on {lo}-{hi} arcsec)")
        ps = r.get("in_pixel_scale")
        if ps and abs(pixel_scale / ps - 1) > 0.05:
            problems.append(f"pixel scale {pixel_scale:.3g} arcsec (trained on {ps} arcsec)")
        slo, shi = r.get("snr_range", (0, np.inf))
        if snr is not None and not slo * 0.7 <= snr <= shi * 1.5:
            problems.append(f"SNR ~{snr:.0f} (trained on {slo:g}-{shi:g})")
        if not problems:
            return ""
        return (f"model {self.name!r}: input outside its training regime: " + "; ".join(problems)
                + ". Results may be unreliable; check the chi^2 consistency and compare with "
                "a baseline.")

    # -- the restore() core --------------------------------------------------------------
    def __call__(self, observation: np.ndarray, psf: np.ndarray, factor: int, noise_rms: float, *,
                 pixel_scale: float, psf_fwhm: float | None = None, samples: int = 1,
                 flux_calibrate: bool = True, seed: int | None = 0, tile: int = 128,
                 device: str | None = None) -> tuple[np.ndarray, np.ndarray | None, dict]:
        """Core used by :func:`galgen.restore`; see :meth:`predict` for the arguments.

        ``samples > 1`` adds a per-pixel standard deviation from a parametric
        bootstrap: the observation is re-noised ``samples`` times with its own
        noise level and restored each time; the spread measures how much the
        restoration depends on the noise (not the model's own error).
        """
        if factor != self.config.scale:
            msg = (f"model {self.name!r} restores x{self.config.scale}, not x{factor}; "
                   f"pass scale={self.config.scale}")
            raise GalgenModelError(msg)
        if device is not None and torch.device(device) != self.device:
            self.device = torch.device(device)
            self.generator.to(self.device)
        if psf_fwhm is None:
            from galgen.psf.models import measure_fwhm

            psf_fwhm = measure_fwhm(psf, pixel_scale)
        return self.restore_batch([observation], [noise_rms], [psf_fwhm], pixel_scale, samples=samples,
                                  flux_calibrate=flux_calibrate, seed=seed, tile=tile)[0]

    @torch.inference_mode()
    def _forward_batch(self, stretched: np.ndarray, conditions: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(stretched, np.float32))[:, None].to(self.device)
        c = torch.from_numpy(np.ascontiguousarray(conditions, np.float32)).to(self.device)
        if self.device.type == "cuda":
            x = x.to(memory_format=torch.channels_last)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.amp and self.device.type == "cuda"):
            y = self.generator(x, c)
        return y[:, 0].float().cpu().numpy().astype(np.float64)

    def predict_many(self, observations: list[np.ndarray], noise_rms: list[float],
                     psf_fwhm: list[float], pixel_scale: float, *, tile: int = 128,
                     batch_size: int = 32) -> list[np.ndarray]:
        """:meth:`predict` for many images, stacking equal-shaped stamps into batches."""
        s = self.config.scale
        out: list[np.ndarray | None] = [None] * len(observations)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, obs in enumerate(observations):
            if max(obs.shape) <= tile:
                groups.setdefault(obs.shape, []).append(i)
            else:
                out[i] = self.predict(obs, noise_rms[i], psf_fwhm[i], pixel_scale, tile=tile)
        for indices in groups.values():
            for k in range(0, len(indices), batch_size):
                chunk = indices[k:k + batch_size]
                stretches = [AsinhStretch(noise_rms[i], self.config.softening) for i in chunk]
                x = np.stack([st.forward(np.asarray(observations[i], np.float64))
                              for st, i in zip(stretches, chunk, strict=True)])
                c = np.stack([condition_vector(psf_fwhm[i], pixel_scale / s) for i in chunk])
                y = self._forward_batch(x, c)
                for st, i, yi in zip(stretches, chunk, y, strict=True):
                    out[i] = st.inverse(yi) / s**2
        return out  # type: ignore[return-value]

    def restore_batch(self, observations: list[np.ndarray], noise_rms: list[float],
                      psf_fwhm: list[float], pixel_scale: float, *, samples: int = 1,
                      flux_calibrate: bool = True, seed: int | None = 0, tile: int = 128,
                      batch_size: int = 32, warn: bool = True,
                      ) -> list[tuple[np.ndarray, np.ndarray | None, dict]]:
        """The :meth:`__call__` result for each image, with batched network passes.

        Each ``info`` holds ``regime_warning`` (``""`` inside the training regime);
        with ``warn=False`` it is only recorded there, not raised as a
        ``GalgenRegimeWarning`` (the batch engine writes it to its manifest:
        Python's warning filters are process-wide and not thread-safe).
        """
        restored = self.predict_many(observations, noise_rms, psf_fwhm, pixel_scale, tile=tile,
                                     batch_size=batch_size)
        results = []
        for obs, noise, fwhm, rest in zip(observations, noise_rms, psf_fwhm, restored, strict=True):
            snr = float(np.sqrt(max(np.sum(obs**2) - obs.size * noise**2, 0.0)) / noise)
            regime_warning = self.regime_problems(fwhm, pixel_scale, snr)
            if regime_warning and warn:
                warnings.warn(regime_warning, GalgenRegimeWarning, stacklevel=2)
            alpha, predicted = 1.0, None
            small = max(obs.shape) <= 2 * int(self.regime.get("in_size", 64))
            if flux_calibrate and small:
                predicted = self.reconvolve(rest, fwhm, pixel_scale)
                alpha = self.flux_calibration(obs, rest, noise, fwhm, pixel_scale, predicted=predicted)
            std = None
            if samples > 1:
                rng = np.random.default_rng(seed)
                draws = self.predict_many([obs + rng.normal(0, noise, obs.shape) for _ in range(samples)],
                                          [noise] * samples, [fwhm] * samples, pixel_scale, tile=tile,
                                          batch_size=batch_size)
                std = alpha * np.std(draws, axis=0, ddof=1)
            info = {"model_name": self.name, "model_hash": self.sha256, "flux_scale": alpha,
                    "snr_estimate": snr, "regime_warning": regime_warning,
                    "target_psf_fwhm": float(self.regime.get("target_psf_fwhm", 0.2))}
            if predicted is not None:  # A(alpha x) = alpha A(x): finalize_result's chi^2 reuses it
                info["reconvolved"] = alpha * predicted
            results.append((rest * alpha, std, info))
        return results


@lru_cache(maxsize=4)
def load_model(name_or_path: str = "default_x2", device: str = "cpu", *, amp: bool = True) -> LearnedRestorer:
    """A shipped model by name (``galgen/weights/<name>``) or a model directory by path
    (``amp``: see :class:`LearnedRestorer`)."""
    shipped = shipped_models()
    if name_or_path in shipped:
        return LearnedRestorer(shipped[name_or_path], device, amp=amp)
    path = Path(name_or_path)
    if (path / "config.json").is_file():
        return LearnedRestorer(path, device, amp=amp)
    msg = (f"no model {name_or_path!r}: shipped models are {sorted(shipped) or 'none'}; "
           "or give a directory holding model.safetensors and config.json")
    raise GalgenModelError(msg)


def save_untrained_model(directory: str | os.PathLike, config: RestorerConfig | None = None, *,
                         name: str = "untrained", seed: int = 0, tail_std: float = 0.05) -> Path:
    """Write a randomly initialised restorer (weights + card) for tests and timing benchmarks.

    The generator's last layer starts at zero (it then returns the bicubic
    upsampling); ``tail_std`` perturbs it so the network does something non-trivial.
    The card's regime is the simulator's default. Never use it to restore data.
    """
    from galgen.models.serialization import save_module
    from galgen.simulate import DEFAULT_REGIME

    config = config or RestorerConfig()
    torch.manual_seed(seed)
    gen = build_generator(config)
    with torch.no_grad():
        gen.tail.weight.normal_(0, tail_std)
    save_module(gen, directory, {"name": name, "architecture": config.to_dict(),
                                 "regime": DEFAULT_REGIME.to_dict(), "untrained": True})
    return Path(directory)
