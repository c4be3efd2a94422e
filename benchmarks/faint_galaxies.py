"""Galaxies fainter than the training range (SNR 6-14; the models saw 20-200).

Such stamps are flagged ``REGIME`` (an SNR under 0.7 times the range's bottom). This measures
what the default gives them against tuned Richardson-Lucy and bicubic on the ``structured`` and
``sdss`` sets' galaxies, PSFs and noise at SNR 6-14: most galaxies of a survey are faint.

Run: ``python benchmarks/faint_galaxies.py -n 200 [--held-out]`` (validation pairs, seed
9,000,000, or held-out pairs, seed 10,000,000; baselines tuned per PSF/SNR bin on validation
pairs of the same set).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from _report import add_held_out, machine, print_summary, seed_of

from galgen.evaluation import BENCHMARK_SETS
from galgen.evaluation.benchmark import run_benchmark

SNR_RANGE = (6.0, 14.0)
COLUMNS = [("median_psnr", "PSNR (dB)", ".2f"), ("median_abs_flux_error", "median abs flux err", ".2%"),
           ("median_flux_error", "median flux err", "+.2%"),
           ("median_abs_hlr_error", "median abs hlr err", ".2%"),
           ("median_chi2", "median chi2", ".2f")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=200)
    add_held_out(parser)
    parser.add_argument("--sets", nargs="+", default=["structured", "sdss"], choices=list(BENCHMARK_SETS))
    args = parser.parse_args()
    seed = seed_of(args)
    for name in args.sets:
        regime = replace(BENCHMARK_SETS[name], snr_range=SNR_RANGE)
        t0 = time.perf_counter()
        table = run_benchmark(args.n, ("default", "richardson_lucy", "bicubic"), regime, seed=seed,
                              progress=False)
        print(f"\n### {name} at SNR {SNR_RANGE[0]:g}-{SNR_RANGE[1]:g}: {args.n} pairs (seed {seed}), "
              f"{time.perf_counter() - t0:.0f} s on {machine()}\n")
        print_summary(table, COLUMNS)


if __name__ == "__main__":
    main()
