"""The held-out benchmarks: galgen's models against fairly tuned baselines, side by side.

The sets (:data:`BENCHMARK_SETS`), each drawn from seeds never used in training
(validation: 9,000,000; benchmark: 10,000,000; training shards use 20,000,000 and up):

``structured``
    the in-regime set of the morphology-rich simulator in which every galaxy carries
    structure (clumps, arms, bars, rings, dust lanes, irregulars), with the training
    regime's companions, stars, offsets and correlated noise;
``merger``
    the held-out morphology family (mergers and tidal features), never drawn in training;
``cosmos``
    COSMOS-like parametric galaxies with point-like knots (the earlier standard set);
``x4``
    the ``structured`` set at x4 (0.2 to 0.05 arcsec per pixel, target PSF 0.1 arcsec, 48-pixel
    observed stamps);
``sdss``, ``des``, ``hsc``
    the structured galaxies observed at a survey's sampling (0.396, 0.263, 0.168 arcsec per
    pixel) and seeing (1.0-1.8, 0.8-1.4, 0.5-0.9 arcsec) through ground-based PSFs of
    :mod:`galgen.psf.zoo` that are not Moffat profiles (Kolmogorov atmosphere x aberrated
    optics, double Gaussians; aberration patterns never used in training), given to every
    method as a PSF image; galaxies keep their sizes in pixels (dilated by
    ``pixel_scale / 0.2``) and the target PSF is 2 output pixels (:func:`survey_regime`);
``lsst``
    the same at 0.2 arcsec per pixel (LSST-like sampling) and 0.6-1.4 arcsec seeing: the
    sampling and seeing of ``default_x2``'s regime, but PSFs that are not Moffat profiles (target
    PSF 0.2 arcsec, as for the 0.2 arcsec sets);
``sdss_x4``
    the ``sdss`` set at x4 (0.396 to 0.099 arcsec per pixel, target PSF 0.198 arcsec, 48-pixel
    observed stamps);
``bright``, ``sdss_bright``
    the ``structured`` and ``sdss`` sets at SNR 300-3,000, above every model's training range
    (20-200): bright galaxies, common in real surveys.

Baselines get their best fair shot (:mod:`galgen.evaluation.tuning`): the model's output grid
and target PSF, and per PSF/SNR-bin parameters chosen on validation pairs of the same set.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import replace
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.nddata import CCDData
from astropy.table import Table
from tqdm.auto import tqdm

from galgen.errors import GalgenModelError
from galgen.evaluation.coverage import GALAXY_RADIUS, complete_coverage_rows, coverage_metrics
from galgen.evaluation.measure import METRIC_UNITS, measure_galaxy
from galgen.evaluation.tuning import BaselineTuning, tune_baselines
from galgen.io.atomic import atomic_path
from galgen.io.fits import read_image
from galgen.restoration.baselines import BASELINES
from galgen.restoration.engine import Restorer, finalize, prepare_observation
from galgen.restoration.methods import get_method
from galgen.simulate.degrade import DEFAULT_REGIME, HELD_OUT_PSF_VARIANTS, Pair, Regime
from galgen.simulate.pairs import PairDataset

__all__ = [
    "BENCHMARK_SEED",
    "VALIDATION_SEED",
    "BENCHMARK_SETS",
    "STRUCTURED_FAMILIES",
    "survey_regime",
    "restore_pair",
    "run_benchmark",
    "summarize",
    "summarize_by_bin",
    "benchmark_report",
]

log = logging.getLogger(__name__)

BENCHMARK_SEED = 10_000_000
VALIDATION_SEED = 9_000_000

#: Morphology families that carry structure (all but the smooth one and the held-out mergers).
STRUCTURED_FAMILIES = ("clumpy", "spiral", "barred", "ring", "edge_on", "irregular")
_MORPHOLOGY = replace(DEFAULT_REGIME, galaxies="morphology", scene=True, correlated_noise=0.2, max_offset=3.0)


def survey_regime(pixel_scale: float, psf_fwhm_range: tuple[float, float], factor: int = 2, *,
                  psf_families: tuple[str, ...] = ("kolmogorov", "double_gauss"),
                  psf_bias: float = 0.0) -> Regime:
    """Structured galaxies at a survey's sampling, seen through held-out ground-based PSFs.

    Parameters
    ----------
    pixel_scale : float
        Observation pixel scale, arcsec.
    psf_fwhm_range : (float, float)
        Seeing FWHM range, arcsec.
    factor : int, default 2
    psf_families : tuple of str
        PSF families of :mod:`galgen.psf.zoo` (aberration variant 1: never used in training).
    psf_bias : float, default 0
        Fractional error of the PSF size given to the methods (mismatch tables).
    """
    return replace(_MORPHOLOGY, families=STRUCTURED_FAMILIES, in_pixel_scale=pixel_scale, factor=factor,
                   psf_fwhm_range=tuple(psf_fwhm_range), psf_kind="zoo", psf_families=tuple(psf_families),
                   psf_variant=HELD_OUT_PSF_VARIANTS[0], psf_bias=psf_bias, galaxy_scale=pixel_scale / 0.2,
                   target_psf_fwhm=2.0 * pixel_scale / factor)


#: The benchmark sets by name (see the module docstring).
BENCHMARK_SETS = {
    "structured": replace(_MORPHOLOGY, families=STRUCTURED_FAMILIES),
    "merger": replace(_MORPHOLOGY, families=("merger",)),
    "cosmos": DEFAULT_REGIME,
    "sdss": survey_regime(0.396, (1.0, 1.8)),
    "des": survey_regime(0.263, (0.8, 1.4)),
    "hsc": survey_regime(0.168, (0.5, 0.9)),
    "lsst": survey_regime(0.2, (0.6, 1.4)),
    "x4": replace(_MORPHOLOGY, families=STRUCTURED_FAMILIES, factor=4, target_psf_fwhm=0.1, in_size=48),
    "sdss_x4": replace(survey_regime(0.396, (1.0, 1.8), factor=4), in_size=48),
    "bright": replace(_MORPHOLOGY, families=STRUCTURED_FAMILIES, snr_range=(300.0, 3000.0)),
    "sdss_bright": replace(survey_regime(0.396, (1.0, 1.8)), snr_range=(300.0, 3000.0)),
}
DEFAULT_METHODS = ("default", "richardson_lucy", "wiener", "wiener_target", "bicubic")


def restore_pair(restorer: Restorer, pair: Pair, *, samples: int = 1) -> CCDData:
    """Restore a simulated pair through galgen's engine, as :func:`galgen.restore` would.

    The restorer gets the observation with its true noise level, its true PSF image (and
    FWHM) and no background to subtract (simulated pairs are sky-subtracted):
    ``galgen.restore(pair.observation, pair.psf_fwhm * u.arcsec, psf=pair.psf,
    noise_rms=pair.noise_rms, background=0.0, pixel_scale=...)`` gives the same pixels.
    """
    image = read_image(pair.observation, pixel_scale=pair.regime.in_pixel_scale)
    prepared = prepare_observation(image, pair.psf_fwhm * u.arcsec, psf=pair.psf, noise_rms=pair.noise_rms,
                                   background=0.0)
    (restoration,) = restorer.restore_batch([prepared], samples=samples)
    return finalize(image, prepared, restoration, scale=restorer.scale, samples=samples)


def run_benchmark(n: int = 200, methods: tuple[str, ...] = DEFAULT_METHODS,
                  regime: Regime = BENCHMARK_SETS["structured"], seed: int = BENCHMARK_SEED, *,
                  tuning: BaselineTuning | None = None, validation_seed: int = VALIDATION_SEED,
                  progress: bool = True, device: str = "cpu", samples: int = 1) -> Table:
    """Restore ``n`` held-out pairs with each method and measure every galaxy.

    Parameters
    ----------
    n : int, default 200
    methods : tuple of str
        Learned models (``"default"``, names, directories) and baselines; ``"default"`` is
        skipped when no model is shipped for the regime's factor.
    regime : Regime
        The set's regime (see :data:`BENCHMARK_SETS`).
    seed : int
        Benchmark seed.
    tuning : BaselineTuning, optional
        Baseline parameters; default tuned now on ``validation_seed`` pairs of ``regime``.
    samples : int, default 1
        ``> 1``: learned models also make their uncertainty map from ``samples`` draws (posterior
        sampler or bootstrap, calibrated as their card says), and its coverage of the truth is
        measured (:func:`galgen.evaluation.coverage.coverage_metrics` within
        ``GALAXY_RADIUS * regime.galaxy_scale`` arcsec of the centre, as the flux aperture
        scales; NaN for baselines).

    Returns
    -------
    astropy.table.Table
        One row per (galaxy, method): truth parameters, the metrics of
        :func:`galgen.evaluation.measure.measure_galaxy`, ``seconds`` (restoration
        time, with the draws) and, with ``samples > 1``, the coverage columns. ``meta`` records
        the seeds, the regime, the tuned baseline parameters and ``samples``.
    """
    learned = []
    for m in methods:
        if m in BASELINES:
            continue
        try:
            learned.append(get_method(m, regime.factor, device=device))
        except GalgenModelError as exc:
            if m != "default":
                raise
            log.warning("%s: skipped", exc)
    baselines = [m for m in methods if m in BASELINES]
    if tuning is None and baselines:
        tuned = tuple(b for b in baselines if b != "bicubic")
        tuning = tune_baselines(regime, validation_seed, methods=tuned)
    dataset = PairDataset(n, seed, regime)
    aperture = 3.0 * regime.galaxy_scale  # arcsec: 15 observed pixels at every set's sampling
    rows = []
    for i in tqdm(range(n), desc="benchmark", disable=not progress):
        p = dataset.pair(i)
        restorers = learned + [tuning.restorer(b, regime.factor, p.psf_fwhm, p.snr) for b in baselines]
        for restorer in restorers:
            t0 = time.perf_counter()
            result = restore_pair(restorer, p, samples=samples if restorer in learned else 1)
            seconds = time.perf_counter() - t0
            restored = np.asarray(result.data)
            row = {"index": i, "method": restorer.name, "psf_fwhm": p.psf_fwhm, "snr": p.snr,
                   "kind": p.params["kind"], "seconds": seconds}
            if result.uncertainty is not None:  # galaxies are dilated by galaxy_scale: so is the disc
                row.update(coverage_metrics(restored, result.uncertainty.array, p.target,
                                            regime.out_pixel_scale, GALAXY_RADIUS * regime.galaxy_scale))
            row.update(measure_galaxy(restored, p.target, regime.out_pixel_scale,
                                      observation=p.observation, noise_rms=p.noise_rms,
                                      psf_fwhm=p.psf_fwhm, scale=regime.factor,
                                      target_psf_fwhm=regime.target_psf_fwhm, aperture=aperture))
            rows.append(row)
    table = Table(rows=complete_coverage_rows(rows))
    for col, unit in {**METRIC_UNITS, "psf_fwhm": "arcsec", "seconds": "s"}.items():
        if unit and col in table.colnames:
            table[col].unit = unit
    table.meta.update({"seed": seed, "validation_seed": validation_seed, "n": n, "regime": regime.to_dict(),
                       "baselines_at_target_psf_fwhm": regime.target_psf_fwhm,
                       "baseline_tuning": tuning.table() if tuning is not None else [],
                       "flux_aperture_arcsec": aperture, "samples": samples})
    return table


def _median(x: np.ndarray) -> float:
    """Median of the finite values; NaN (without numpy's all-NaN warning) when there are none."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else float("nan")


def _robust_scatter(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(1.4826 * np.median(np.abs(x - np.median(x)))) if x.size else float("nan")


def summarize(table: Table) -> Table:
    """Median (and robust scatter) of each metric per method, with the headline numbers."""
    out = []
    for method in dict.fromkeys(table["method"]):
        t = table[table["method"] == method]
        row = {"method": method, "n": len(t)}
        for col in ("psnr", "ssim", "chi2", "seconds"):
            if col in t.colnames:
                row[f"median_{col}"] = _median(t[col])
        for col in ("flux_error", "hlr_error", "e_error", "e_iso_error"):
            if col not in t.colnames:
                continue
            values = np.asarray(t[col], float)
            row[f"median_abs_{col}"] = _median(np.abs(values))
            row[f"median_{col}"] = _median(values)
            row[f"scatter_{col}"] = _robust_scatter(values)
        row["failed"] = int(np.sum(np.asarray(t["flag"]) != ""))
        if "coverage_pixels" in t.colnames:  # pooled over galaxy pixels, as the goal is stated
            pixels = np.asarray(t["coverage_pixels"], float)
            for k in ("1sigma", "2sigma"):
                c = np.asarray(t[f"coverage_{k}"], float)
                ok = np.isfinite(c) & (pixels > 0)
                row[f"coverage_{k}"] = (float(np.average(c[ok], weights=pixels[ok])) if ok.any()
                                        else float("nan"))
        out.append(row)
    return Table(rows=out)


def benchmark_report(outdir: str | os.PathLike, n: int = 200, *, benchmark: str = "structured",
                     examples: int = 4, progress: bool = True, device: str = "cpu",
                     methods: tuple[str, ...] = DEFAULT_METHODS,
                     validation_pairs: int = 72, samples: int = 1) -> tuple[Table, Table]:
    """Run :func:`run_benchmark` on one of :data:`BENCHMARK_SETS` and write ``benchmark.ecsv``
    (per galaxy), ``summary.ecsv``, ``summary_by_bin.ecsv``, ``baseline_tuning.ecsv`` and the
    figures (PNG and PDF) into ``outdir``; the baselines are tuned on ``validation_pairs``
    pairs of the validation seed. ``samples > 1`` adds the learned models' uncertainty
    coverage and ``reliability.png`` (a reliability diagram)."""
    from galgen.evaluation.figures import example_panels, flux_recovery, metric_trends, reliability_diagram

    if benchmark not in BENCHMARK_SETS:
        from galgen.errors import GalgenValueError

        msg = f"unknown benchmark {benchmark!r}; choose one of {sorted(BENCHMARK_SETS)}"
        raise GalgenValueError(msg)
    regime = BENCHMARK_SETS[benchmark]
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    baselines = tuple(m for m in methods if m in BASELINES and m != "bicubic")
    tuning = None
    if baselines:
        tuning = tune_baselines(regime, VALIDATION_SEED, validation_pairs, methods=baselines)
    table = run_benchmark(n, methods, regime, tuning=tuning, progress=progress, device=device,
                          samples=samples)
    table.meta["benchmark"] = benchmark
    summary = summarize(table)
    by_bin = summarize_by_bin(table, psf_edges=tuple(np.linspace(*regime.psf_fwhm_range, 4)))
    tuned = Table(rows=table.meta["baseline_tuning"]) if table.meta["baseline_tuning"] else Table()
    for t, name in ((table, "benchmark"), (summary, "summary"), (by_bin, "summary_by_bin"),
                    (tuned, "baseline_tuning")):
        with atomic_path(outdir / f"{name}.ecsv") as tmp:
            t.write(tmp, format="ascii.ecsv", overwrite=True)
    metric_trends(table, outdir)
    flux_recovery(table, outdir)
    if "coverage_pixels" in table.colnames:
        reliability_diagram(table, outdir, title=f"{benchmark} set, {samples} samples")
    dataset = PairDataset(n, BENCHMARK_SEED, regime)
    restorers = []
    try:
        restorers.append(get_method("default", regime.factor, device=device))
    except GalgenModelError:
        pass  # no shipped model at this scale: the panels show Richardson-Lucy alone
    rows = []
    for i in range(min(examples, n)):
        p = dataset.pair(i)
        panel = [*restorers] + ([tuning.restorer("richardson_lucy", regime.factor, p.psf_fwhm, p.snr)]
                                if tuning is not None and "richardson_lucy" in tuning.best else [])
        restored = {r.name: np.asarray(restore_pair(r, p).data) for r in panel}
        rows.append({"observation": p.observation, "truth": p.target, "noise_rms": p.noise_rms,
                     "snr": p.snr, "psf_fwhm": p.psf_fwhm, "restored": restored})
    example_panels(rows, outdir)
    return table, summary


def summarize_by_bin(table: Table, snr_edges: tuple[float, ...] = (20, 40, 80, 200),
                     psf_edges: tuple[float, ...] = (0.6, 0.87, 1.13, 1.4)) -> Table:
    """Medians per method in SNR bins and in PSF-FWHM bins."""
    rows = []
    for kind, col, edges in (("snr", "snr", snr_edges), ("psf_fwhm", "psf_fwhm", psf_edges)):
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            sel = (np.asarray(table[col]) >= lo) & (np.asarray(table[col]) <= hi)
            if not sel.any():
                continue
            for r in summarize(table[sel]):
                rows.append({"bin": kind, "low": lo, "high": hi, **dict(zip(r.colnames, r, strict=True))})
    return Table(rows=rows)
