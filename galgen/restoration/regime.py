"""What a learned model was trained for, and why an input lies outside it.

A model card's ``"regime"`` table (written from :class:`galgen.simulate.Regime` by the training
loop) states the pixel scale, PSF FWHM range and family, SNR range and target PSF of the
training pairs. :class:`ModelRegime` reads it: the target PSF at a given sampling, and the
reasons an observation is outside (``REGIME`` flag, the router's choice among models).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = ["ModelRegime"]


@dataclass(frozen=True)
class ModelRegime(Mapping):
    """A model card's training regime: the card's table (read as a mapping, ``regime["snr_range"]``)
    and what follows from it.

    Parameters
    ----------
    name : str
        The model's name, for messages.
    table : Mapping
        The card's ``"regime"`` table: ``in_pixel_scale`` (arcsec), ``psf_fwhm_range`` (arcsec at
        ``in_pixel_scale``), ``snr_range``, ``target_psf_fwhm`` (arcsec, default 0.2),
        ``any_pixel_scale`` (the model works in pixel units), ``psf_kind`` and
        ``moffat_beta``/``moffat_beta_range`` for a model trained on Moffat PSFs.
    scale : int
        The model's resolution factor.
    reads_psf : bool, default False
        Whether the model is given the PSF image (then any PSF family is in its regime).

    Examples
    --------
    >>> r = ModelRegime("m", {"in_pixel_scale": 0.2, "psf_fwhm_range": (0.6, 1.4),
    ...                       "snr_range": (20, 200)}, scale=2)
    >>> r.problems(1.0, 0.2, 50.0)
    ''
    >>> r.problems(2.0, 0.2, 50.0)[:75]
    "model 'm': input outside its training regime: PSF FWHM 2 arcsec (trained on"
    """

    name: str
    table: Mapping = field(repr=False)
    scale: int = 2
    reads_psf: bool = False

    def __getitem__(self, key: str) -> object:
        return self.table[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.table)

    def __len__(self) -> int:
        return len(self.table)

    @property
    def target_psf_fwhm(self) -> float:
        """FWHM of the restored images' PSF (the training target's Gaussian), arcsec, at the
        training pixel scale (see :meth:`target_fwhm_at` for a model working in pixel units)."""
        return float(self.table.get("target_psf_fwhm", 0.2))

    @property
    def any_pixel_scale(self) -> bool:
        """Whether the model works in pixel units (its regime holds at any pixel scale)."""
        return bool(self.table.get("any_pixel_scale", False))

    @property
    def snr_top(self) -> float:
        """The highest training SNR (the ``snr_range`` maximum; infinite when the card has none)."""
        return float(self.table.get("snr_range", (0, np.inf))[1])

    @property
    def in_size(self) -> int:
        """The training stamps' side, input pixels (64 when the card does not say)."""
        return int(self.table.get("in_size", 64))

    @property
    def target_fwhm_pix(self) -> float:
        """Target PSF FWHM in output pixels."""
        return self.target_psf_fwhm / (float(self.table.get("in_pixel_scale", 0.2)) / self.scale)

    def sampling_ratio(self, pixel_scale: float) -> float:
        """How much larger a pixel-unit model's angles are at ``pixel_scale`` (arcsec) than at its
        training scale (1 for a model of one sampling)."""
        if not self.any_pixel_scale:
            return 1.0
        return pixel_scale / float(self.table.get("in_pixel_scale", 0.2))

    def target_fwhm_at(self, pixel_scale: float) -> float:
        """FWHM (arcsec) of the restored image's PSF for an observation at ``pixel_scale`` arcsec:
        fixed, or for a pixel-unit model the same number of output pixels at any scale."""
        return self.target_psf_fwhm * self.sampling_ratio(pixel_scale)

    def psf_shape_problem(self, psf: np.ndarray | None, psf_model: str) -> str:
        """Why ``psf`` is outside a Moffat-trained model's PSF family (``""`` when it is not, or
        when the model reads the PSF image); see :meth:`problems`."""
        r = self.table
        if psf is None or r.get("psf_kind") != "moffat" or self.reads_psf:
            return ""
        from galgen.psf.shape import MOFFAT_TOLERANCE, moffat_mismatch

        lo, hi = r.get("moffat_beta_range") or (r.get("moffat_beta", 3.5),) * 2
        drawn = re.fullmatch(r"moffat\(beta=([0-9.]+)\)", psf_model)  # galgen drew it from a FWHM
        if drawn and lo - 1e-9 <= float(drawn.group(1)) <= hi + 1e-9:
            return ""
        # a model trained on a range of betas: the closest beta on a grid of 0.25 (off by 0.125 at
        # most: under 0.005 of mismatch)
        mismatch = min(moffat_mismatch(psf, b) for b in np.unique(np.r_[np.arange(lo, hi, 0.25), hi]))
        if mismatch <= MOFFAT_TOLERANCE:
            return ""
        beta = f"{lo:g}" if lo == hi else f"{lo:g}-{hi:g}"
        return (f"the PSF image is not a round Moffat (beta {beta}): {mismatch:.1%} of its light lies "
                f"elsewhere than in the closest one (trained on such Moffats, told only their FWHM; "
                f"--method default gives such a PSF to a model that reads the PSF image)")

    def fwhm_range(self, psf_fwhm: float, pixel_scale: float) -> tuple[float, float, float, str]:
        """``(fwhm, lo, hi, unit)``: the PSF FWHM and the trained range in the regime's own unit
        (input pixels for a model trained at any sampling, arcsec otherwise)."""
        lo, hi = self.table.get("psf_fwhm_range", (0, np.inf))
        if self.any_pixel_scale:
            ps = self.table["in_pixel_scale"]
            return psf_fwhm / pixel_scale, lo / ps, hi / ps, "pixels"
        return psf_fwhm, lo, hi, "arcsec"

    def sampling_holds(self, pixel_scale: float) -> bool:
        """Whether ``pixel_scale`` (arcsec) is the training one to 5 % (always, in pixel units)."""
        ps = self.table.get("in_pixel_scale")
        return self.any_pixel_scale or not ps or abs(pixel_scale / ps - 1) <= 0.05

    def distance(self, psf_fwhm: float, pixel_scale: float, psf: np.ndarray | None = None,
                 psf_model: str = "image") -> tuple[bool, bool, float]:
        """How far an input is from the training regime, for choosing among models none of which
        holds it: ``(sampling outside, PSF family outside, |ln(FWHM / nearest end of the trained
        FWHM range)|)``; tuples compare in that order (a model trained at another pixel scale is
        the worst choice whatever its PSF range)."""
        fwhm, lo, hi, _ = self.fwhm_range(psf_fwhm, pixel_scale)
        return (not self.sampling_holds(pixel_scale), bool(self.psf_shape_problem(psf, psf_model)),
                abs(float(np.log(fwhm / np.clip(fwhm, lo, hi)))))

    def problems(self, psf_fwhm: float, pixel_scale: float, snr: float | None,
                 psf: np.ndarray | None = None, psf_model: str = "image") -> str:
        """Why the input lies outside the training regime (``""`` when it does not).

        Parameters
        ----------
        psf_fwhm, pixel_scale : float
            The observing PSF's FWHM and the input's pixel scale, arcsec.
        snr : float or None
            The SNR the network saw: a bright stamp told a larger noise
            (:meth:`~galgen.restoration.model.LearnedRestorer.network_noise`) is in range; a field,
            or a faint target beside a much brighter source, is not. ``None``: not checked.
        psf : numpy.ndarray, optional
            The observing PSF image at the input's pixel scale: a model trained on round Moffat
            PSFs and told only their FWHM (``psf_kind`` ``"moffat"``) is out of its regime when the
            image is not one (:func:`galgen.psf.shape.moffat_mismatch` above
            :data:`galgen.psf.shape.MOFFAT_TOLERANCE`).
        psf_model : str, default "image"
            :attr:`~galgen.restoration.PreparedObservation.psf_model`: names a Moffat that galgen
            drew from a FWHM, which needs no measuring.

        Returns
        -------
        str
        """
        problems = [p for p in [self.psf_shape_problem(psf, psf_model)] if p]
        fwhm, lo, hi, unit = self.fwhm_range(psf_fwhm, pixel_scale)
        if not lo * 0.95 <= fwhm <= hi * 1.05:
            problems.append(f"PSF FWHM {fwhm:.3g} pixels ({psf_fwhm:.3g} arcsec; trained on "
                            f"{lo:g}-{hi:g} pixels)" if unit == "pixels" else
                            f"PSF FWHM {psf_fwhm:.3g} arcsec (trained on {lo:g}-{hi:g} arcsec)")
        if not self.sampling_holds(pixel_scale):
            trained = self.table["in_pixel_scale"]
            problems.append(f"pixel scale {pixel_scale:.3g} arcsec (trained on {trained} arcsec)")
        slo, shi = self.table.get("snr_range", (0, np.inf))
        if snr is not None and snr < slo * 0.7:  # benchmarks/faint_galaxies.py, held out at SNR 6-14
            problems.append(f"SNR ~{snr:.0f} (trained on {slo:g}-{shi:g}; fainter galaxies come out with "
                            f"fluxes biased low, a median 14-27 %: measure the flux on the observation)")
        elif snr is not None and not slo * 0.7 <= snr <= shi * 1.5:  # brighter (or not measurable)
            problems.append(f"SNR ~{snr:.0f} (trained on {slo:g}-{shi:g})")
        if not problems:
            return ""
        return (f"model {self.name!r}: input outside its training regime: " + "; ".join(problems)
                + ". Results may be unreliable; check the chi^2 consistency and compare with "
                "a baseline.")
