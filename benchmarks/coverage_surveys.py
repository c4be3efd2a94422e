"""Coverage of the shipped uncertainty map on the survey sets, through ``--method default``.

The maps' calibrations were fitted on the 0.2"/px ``structured`` set (the posterior sampler's,
in its card, and the bootstrap's, in each model's card) and checked there and on mergers
(``benchmarks/uncertainty.py``). A survey user's stamps reach other models and other PSFs: the
router sends SDSS-, DES- and HSC-like samplings, and non-Moffat PSF images at 0.2"/px, to
``survey_x2``, and x4 stamps go to ``survey_x4``. This restores each set's pairs with
``samples`` draws exactly as ``galgen restore --samples N`` does (the map calibrated as shipped,
``uncertainty="auto"``) and reports the coverage of the truth on galaxy pixels (within 2" of
the centre, scaled with the set's galaxy sizes; :func:`galgen.evaluation.coverage.coverage_metrics`),
pooled over the pairs.
Nothing is fitted here. Goal: 68.3 +- 5 % at 1 sigma and 95.4 +- 3 % at 2 sigma.

Run: ``python benchmarks/coverage_surveys.py -n 30 [--samples 16] [--held-out]`` (validation
pairs, seed 9,000,000, or held-out pairs, seed 10,000,000).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _report import add_held_out, machine, seed_of

from galgen.evaluation import BENCHMARK_SETS
from galgen.evaluation.benchmark import run_benchmark

SETS = ["structured", "lsst", "hsc", "des", "sdss", "x4", "sdss_x4"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=30, help="pairs per set")
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--sets", nargs="+", default=SETS, choices=list(BENCHMARK_SETS))
    add_held_out(parser)
    args = parser.parse_args()
    seed = seed_of(args)
    rows, t0 = [], time.perf_counter()
    for name in args.sets:
        table = run_benchmark(args.n, ("default",), BENCHMARK_SETS[name], seed=seed, samples=args.samples,
                              progress=False)
        pixels = np.asarray(table["coverage_pixels"], float)
        pooled = [float(np.sum(np.asarray(table[c], float) * pixels) / pixels.sum())
                  for c in ("coverage_1sigma", "coverage_2sigma")]
        low = float(np.mean(np.asarray(table["coverage_2sigma"], float) < 0.8))
        rows.append((name, str(table["method"][0]), len(table), *pooled, low,
                     float(np.median(table["seconds"]))))
    print(f"\n{args.n} pairs a set (seed {seed}), {args.samples} samples, calibrated as shipped; "
          f"{time.perf_counter() - t0:.0f} s on {machine()}\n")
    print("| set | method | pairs | 1 sigma | 2 sigma | pairs under 80 % at 2 sigma | s / stamp |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, method, n, c1, c2, low, sec in rows:
        print(f"| {name} | {method} | {n} | {c1:.1%} | {c2:.1%} | {low:.0%} | {sec:.2f} |")
    print("\n(nominal 68.3 % and 95.4 %)")


if __name__ == "__main__":
    main()
