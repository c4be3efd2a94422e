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
import os
import platform
import time
from dataclasses import replace

import torch

from galgen.evaluation import BENCHMARK_SETS
from galgen.evaluation.benchmark import BENCHMARK_SEED, VALIDATION_SEED, run_benchmark, summarize

SNR_RANGE = (6.0, 14.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--held-out", action="store_true", help="held-out pairs (seed 10,000,000)")
    parser.add_argument("--sets", nargs="+", default=["structured", "sdss"], choices=list(BENCHMARK_SETS))
    args = parser.parse_args()
    seed = BENCHMARK_SEED if args.held_out else VALIDATION_SEED
    machine = (f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, torch "
               f"{torch.__version__}, {torch.get_num_threads()} threads")
    for name in args.sets:
        regime = replace(BENCHMARK_SETS[name], snr_range=SNR_RANGE)
        t0 = time.perf_counter()
        table = run_benchmark(args.n, ("default", "richardson_lucy", "bicubic"), regime, seed=seed,
                              progress=False)
        print(f"\n### {name} at SNR {SNR_RANGE[0]:g}-{SNR_RANGE[1]:g}: {args.n} pairs (seed {seed}), "
              f"{time.perf_counter() - t0:.0f} s on {machine}\n")
        print("| method | PSNR (dB) | median abs flux err | median flux err | median abs hlr err "
              "| median chi2 |")
        print("| --- | --- | --- | --- | --- | --- |")
        for row in summarize(table):
            print(f"| {row['method']} | {row['median_psnr']:.2f} | {row['median_abs_flux_error']:.2%} | "
                  f"{row['median_flux_error']:+.2%} | {row['median_abs_hlr_error']:.2%} | "
                  f"{row['median_chi2']:.2f} |")


if __name__ == "__main__":
    main()
