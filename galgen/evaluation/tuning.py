"""Baselines at their best: parameters tuned per PSF and SNR bin on validation pairs.

A fair comparison gives every classical method the output grid and the target PSF of the
learned model (:class:`galgen.restoration.BaselineRestorer` with ``target_psf_fwhm``) and the
parameters that serve it best on data of the same kind: here, for each bin of observing
PSF FWHM and SNR, the Richardson-Lucy iteration count and the Wiener regularisations with
the highest median PSNR on validation pairs (seeds never used for the benchmark).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from galgen.metrics.image import psnr
from galgen.restoration.methods import BaselineRestorer
from galgen.simulate.degrade import Regime
from galgen.simulate.pairs import Pair, PairDataset

__all__ = ["TUNED", "BaselineTuning", "tune_baselines"]

log = logging.getLogger(__name__)

#: The parameter each tuned baseline searches, and its candidates.
TUNED = {
    "richardson_lucy": ("iterations", (2, 3, 5, 8, 12, 20, 30, 50)),
    "wiener": ("balance", (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1)),
    "wiener_target": ("balance", (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)),
}


@dataclass(frozen=True)
class BaselineTuning:
    """Best baseline parameters per (PSF FWHM, SNR) bin.

    Attributes
    ----------
    psf_edges, snr_edges : tuple of float
        Bin edges (arcsec; matched-filter SNR). Values outside go to the nearest bin.
    best : dict
        ``best[method][(i_psf, i_snr)] = value`` of the method's :data:`TUNED` parameter.
    target_psf_fwhm : float
        The target PSF (arcsec) every baseline is brought to.
    scores : dict
        ``scores[method][(i_psf, i_snr)][value] =`` median validation PSNR (dB).
    """

    psf_edges: tuple[float, ...]
    snr_edges: tuple[float, ...]
    best: dict
    target_psf_fwhm: float
    scores: dict = field(default_factory=dict)

    def bin_of(self, psf_fwhm: float, snr: float) -> tuple[int, int]:
        """``(i_psf, i_snr)`` of an observation."""
        i = int(np.clip(np.searchsorted(self.psf_edges, psf_fwhm) - 1, 0, len(self.psf_edges) - 2))
        j = int(np.clip(np.searchsorted(self.snr_edges, snr) - 1, 0, len(self.snr_edges) - 2))
        return i, j

    def restorer(self, method: str, scale: int, psf_fwhm: float, snr: float) -> BaselineRestorer:
        """The baseline with its tuned parameter for this observation, brought to the target PSF."""
        options = {}
        if method in self.best:
            options[TUNED[method][0]] = self.best[method][self.bin_of(psf_fwhm, snr)]
        return BaselineRestorer(method, scale, options, target_psf_fwhm=self.target_psf_fwhm)

    def table(self) -> list[dict]:
        """One row per method and bin: the chosen value and its validation PSNR."""
        rows = []
        for method, bins in self.best.items():
            for (i, j), value in sorted(bins.items()):
                rows.append({"method": method, "parameter": TUNED[method][0], "value": value,
                             "psf_low": self.psf_edges[i], "psf_high": self.psf_edges[i + 1],
                             "snr_low": self.snr_edges[j], "snr_high": self.snr_edges[j + 1],
                             "val_psnr": self.scores[method][(i, j)][value]})
        return rows


def _restore(method: str, parameter: str, value: float, pair: Pair, target: float) -> np.ndarray:
    from galgen.evaluation.benchmark import restore_pair

    restorer = BaselineRestorer(method, pair.regime.factor, {parameter: value}, target_psf_fwhm=target)
    return np.asarray(restore_pair(restorer, pair).data)


def tune_baselines(regime: Regime, seed: int, n: int = 72, *, methods: tuple[str, ...] = tuple(TUNED),
                   psf_edges: tuple[float, ...] | None = None,
                   snr_edges: tuple[float, ...] | None = None) -> BaselineTuning:
    """Choose each baseline's parameter per PSF/SNR bin on ``n`` validation pairs of ``regime``.

    Parameters
    ----------
    regime : Regime
        The regime of the set the baselines will be compared on.
    seed : int
        Validation seed (never the benchmark's).
    n : int, default 72
        Validation pairs (8 per bin with the default 3 x 3 bins).
    methods : tuple of str
        Baselines to tune (keys of :data:`TUNED`).
    psf_edges, snr_edges : tuple of float, optional
        Default: thirds of the regime's PSF range (linear) and SNR range (logarithmic).
    """
    lo, hi = regime.psf_fwhm_range
    psf_edges = psf_edges or tuple(np.linspace(lo, hi, 4))
    slo, shi = regime.snr_range
    snr_edges = snr_edges or tuple(np.exp(np.linspace(np.log(slo), np.log(shi), 4)))
    dataset = PairDataset(n, seed, regime)
    pairs = [dataset.pair(i) for i in range(n)]
    tuning = BaselineTuning(tuple(psf_edges), tuple(snr_edges), {}, regime.target_psf_fwhm)
    bins: dict[tuple[int, int], list[int]] = {}
    for i, p in enumerate(pairs):
        bins.setdefault(tuning.bin_of(p.psf_fwhm, p.snr), []).append(i)
    best, scores = {}, {}
    for method in methods:
        parameter, candidates = TUNED[method]
        target = regime.target_psf_fwhm
        by_value = {v: [psnr(_restore(method, parameter, v, p, target), p.target) for p in pairs]
                    for v in candidates}
        best[method], scores[method] = {}, {}
        for key, index in bins.items():
            scores[method][key] = {v: float(np.median(np.asarray(s)[index])) for v, s in by_value.items()}
            best[method][key] = max(scores[method][key], key=scores[method][key].get)
        # bins with no validation pair take the value that is best over all pairs
        overall = max(candidates, key=lambda v: float(np.median(by_value[v])))
        for i in range(len(psf_edges) - 1):
            for j in range(len(snr_edges) - 1):
                if (i, j) not in best[method]:
                    best[method][(i, j)] = overall
                    scores[method][(i, j)] = {overall: float(np.median(by_value[overall]))}
        log.info("%s: %s per bin %s", method, parameter, best[method])
    return BaselineTuning(tuple(psf_edges), tuple(snr_edges), best, regime.target_psf_fwhm, scores)
