"""Figures of a benchmark: metrics vs SNR and PSF per method, flux recovery, example panels."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from astropy.table import Table

from galgen.plotting import new_figure, save_figure

__all__ = ["metric_trends", "flux_recovery", "example_panels", "reliability_diagram"]


def _save(fig, base: Path) -> list[Path]:  # noqa: ANN001
    return [save_figure(fig, base.with_suffix(ext)) for ext in (".png", ".pdf")]


def _binned_median(x: np.ndarray, y: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    centres, medians = [], []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        m = (x >= lo) & (x < hi) & np.isfinite(y)
        if m.sum() >= 3:
            centres.append(np.sqrt(lo * hi) if lo > 0 else 0.5 * (lo + hi))
            medians.append(np.median(y[m]))
    return np.array(centres), np.array(medians)


def metric_trends(table: Table, outdir: str | os.PathLike) -> list[Path]:
    """Median PSNR, |flux error|, |hlr error|, ellipticity error and chi^2 vs SNR and vs PSF FWHM."""
    metrics = [("psnr", "PSNR (dB)", False), ("flux_error", "|flux error|", True),
               ("hlr_error", "|half-light radius error|", True), ("e_error", "ellipticity error", False),
               ("chi2", "reduced chi^2 (data consistency)", False)]
    fig, axes = new_figure(2, len(metrics), figsize=(3.4 * len(metrics), 6.2))
    snr_edges = np.geomspace(20, 200, 7)
    psf_edges = np.linspace(0.6, 1.4, 6)
    for method in dict.fromkeys(table["method"]):
        t = table[table["method"] == method]
        for j, (col, label, absolute) in enumerate(metrics):
            y = np.asarray(t[col], float)
            y = np.abs(y) if absolute else y
            for i, (xcol, edges) in enumerate((("snr", snr_edges), ("psf_fwhm", psf_edges))):
                cx, my = _binned_median(np.asarray(t[xcol], float), y, edges)
                axes[i, j].plot(cx, my, "o-", label=method, ms=4)
                axes[i, j].set_xlabel("SNR" if i == 0 else "PSF FWHM (arcsec)")
                axes[i, j].set_ylabel(f"median {label}", fontsize=8)
                if i == 0:
                    axes[i, j].set_xscale("log")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, Path(outdir) / "metrics_vs_conditions")


def flux_recovery(table: Table, outdir: str | os.PathLike) -> list[Path]:
    """Restored/true aperture flux against SNR, one panel per method."""
    methods = list(dict.fromkeys(table["method"]))
    fig, axes = new_figure(1, len(methods), figsize=(3.4 * len(methods), 3.2), sharey=True)
    for ax, method in zip(np.atleast_1d(axes), methods, strict=False):
        t = table[table["method"] == method]
        ratio = 1 + np.asarray(t["flux_error"], float)
        ax.scatter(t["snr"], ratio, s=6, alpha=0.6)
        ax.axhline(1, color="k", lw=0.8)
        ax.set_xscale("log")
        ax.set_ylim(0.8, 1.2)
        ax.set_title(f"{method}: median |err| {np.nanmedian(np.abs(ratio - 1)):.1%}", fontsize=9)
        ax.set_xlabel("SNR")
    np.atleast_1d(axes)[0].set_ylabel('restored / true flux (3" aperture)')
    fig.tight_layout()
    return _save(fig, Path(outdir) / "flux_recovery")


def example_panels(examples: list[dict], outdir: str | os.PathLike) -> list[Path]:
    """Observation | each method | truth | residual of the first method, one row per galaxy.

    ``examples``: dicts with ``observation``, ``truth``, ``noise_rms``, ``snr``, ``psf_fwhm``
    and ``restored`` (method name -> image).
    """
    methods = list(examples[0]["restored"])
    ncol = len(methods) + 3
    fig, axes = new_figure(len(examples), ncol, figsize=(2.1 * ncol, 2.2 * len(examples)))
    axes = np.atleast_2d(axes)
    for r, ex in enumerate(examples):
        soft = 3 * ex["noise_rms"]
        truth_sb = ex["truth"] * 4
        vmax = np.arcsinh(truth_sb.max() / soft)
        panels = [("observation", ex["observation"])] + [
            (m, ex["restored"][m] * 4) for m in methods] + [("truth", truth_sb)]
        for c, (name, img) in enumerate(panels):
            axes[r, c].imshow(np.arcsinh(img / soft), origin="lower", cmap="magma", vmin=-0.5, vmax=vmax)
            axes[r, c].set_title(name if r == 0 else "", fontsize=8)
        res = (ex["restored"][methods[0]] - ex["truth"]) * 4 / ex["noise_rms"]
        axes[r, -1].imshow(res, origin="lower", cmap="RdBu_r", vmin=-3, vmax=3)
        axes[r, -1].set_title(f"{methods[0]} - truth (sigma)" if r == 0 else "", fontsize=8)
        axes[r, 0].set_ylabel(f"SNR {ex['snr']:.0f}\nFWHM {ex['psf_fwhm']:.2f}\"", fontsize=8)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return _save(fig, Path(outdir) / "examples")


def reliability_diagram(table: Table, outdir: str | os.PathLike, *, title: str = "") -> list[Path]:
    """Observed against nominal Gaussian coverage of galaxy pixels, pooled per method, from the
    ``reliability`` and ``coverage_pixels`` columns (:mod:`galgen.evaluation.coverage`); a
    calibrated uncertainty map lies on the diagonal. Writes ``reliability.png`` and ``.pdf``;
    methods without an uncertainty map are left out."""
    from galgen.evaluation.coverage import RELIABILITY_LEVELS, pooled_reliability

    fig, ax = new_figure(figsize=(4.6, 4.2))
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls=":", label="ideal")
    for method in dict.fromkeys(table["method"]):
        t = table[table["method"] == method]
        curve = pooled_reliability(np.asarray(t["reliability"]), np.asarray(t["coverage_pixels"]))
        if np.all(np.isfinite(curve)):
            pixels = int(np.sum(t["coverage_pixels"]))
            ax.plot(RELIABILITY_LEVELS, curve, marker=".", label=f"{method} ({pixels} px)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("nominal Gaussian coverage")
    ax.set_ylabel("observed coverage (galaxy pixels)")
    ax.set_title(f"uncertainty map reliability{': ' + title if title else ''}", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    return _save(fig, Path(outdir) / "reliability")
