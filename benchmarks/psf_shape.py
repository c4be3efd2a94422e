"""PSF images that are not Moffat profiles at 0.2"/px: ``default_x2`` against ``survey_x2``.

``default_x2`` was trained on round Moffat PSFs (beta 3.5) and is told only the FWHM;
``survey_x2`` reads the PSF image. This script measures, pair by pair, how far each PSF is
from the closest round Moffat (:func:`galgen.psf.shape.moffat_mismatch`) and what that costs
``default_x2``, which is how :data:`galgen.psf.shape.MOFFAT_TOLERANCE` (the router's cut) was
chosen; then, with ``--held-out``, what the default method gives on held-out pairs.

Sets, all at 0.2"/px with 0.6-1.4" seeing (``default_x2``'s sampling and seeing): round Moffats
of beta 3.5 (the ``structured`` set), of beta 2-5, Gaussians, and the zoo's ground PSFs
(Kolmogorov x aberrated optics, double Gaussians; the ``lsst`` set).

Run: ``python benchmarks/psf_shape.py -n 120`` (validation pairs, seed 9,000,000) and, once, after
the cut is chosen, ``python benchmarks/psf_shape.py -n 80 --held-out`` (seed 10,000,000).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
from _report import add_held_out, machine, print_summary, seed_of

from galgen.evaluation import BENCHMARK_SETS
from galgen.evaluation.benchmark import run_benchmark
from galgen.psf.shape import MOFFAT_TOLERANCE, moffat_mismatch
from galgen.simulate.pairs import PairDataset

SETS = {"moffat 3.5 (structured)": BENCHMARK_SETS["structured"],
        "moffat beta 2-5": replace(BENCHMARK_SETS["structured"], moffat_beta_range=(2.0, 5.0)),
        "gaussian": replace(BENCHMARK_SETS["structured"], psf_kind="gaussian"),
        "zoo (lsst)": BENCHMARK_SETS["lsst"]}
COLUMNS = [("median_psnr", "PSNR (dB)", ".2f"), ("median_abs_flux_error", "median abs flux err", ".2%"),
           ("median_flux_error", "median flux err", "+.2%"),
           ("median_abs_hlr_error", "median abs hlr err", ".2%"),
           ("median_abs_e_iso_error", "isophotal e err", ".3f")]
EDGES = (0.0, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.06, 0.1, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=120)
    add_held_out(parser)
    args = parser.parse_args()
    seed = seed_of(args)
    methods = ("default", "default_x2", "survey_x2")
    pooled = []
    for name, regime in SETS.items():
        t0 = time.perf_counter()
        table = run_benchmark(args.n, methods, regime, seed=seed, progress=False)
        pairs = PairDataset(args.n, seed, regime)
        mismatch = np.array([moffat_mismatch(pairs.pair(i).psf) for i in range(args.n)])
        by = {m: table[table["method"] == m] for m in set(table["method"])}
        x2, survey = by["default_x2"], by["survey_x2"]
        pooled.append(np.column_stack([mismatch, np.asarray(survey["psnr"]) - np.asarray(x2["psnr"]),
                                       np.abs(survey["flux_error"]) - np.abs(x2["flux_error"])]))
        kept = int(np.sum(mismatch <= MOFFAT_TOLERANCE))
        print(f"\n### {name}: {args.n} pairs (seed {seed}), {time.perf_counter() - t0:.0f} s on "
              f"{machine()}\n")
        print(f"moffat_mismatch 5/50/95th percentiles {np.percentile(mismatch, [5, 50, 95]).round(4)}; "
              f"the default gives {kept} of {args.n} to default_x2 (cut {MOFFAT_TOLERANCE})\n")
        print_summary(table, COLUMNS)
    rows = np.concatenate(pooled)
    print(f"\n### All {len(rows)} pairs by moffat_mismatch: survey_x2 minus default_x2, pair by pair\n")
    print("| moffat_mismatch | pairs | median PSNR difference (dB) | survey_x2 better | "
          "median abs flux err difference (points) |")
    print("| --- | --- | --- | --- | --- |")
    for lo, hi in zip(EDGES[:-1], EDGES[1:], strict=True):
        sel = (rows[:, 0] >= lo) & (rows[:, 0] < hi)
        if sel.any():
            print(f"| {lo:g}-{hi:g} | {sel.sum()} | {np.median(rows[sel, 1]):+.2f} | "
                  f"{np.mean(rows[sel, 1] > 0):.0%} | {100 * np.median(rows[sel, 2]):+.2f} |")


if __name__ == "__main__":
    main()
