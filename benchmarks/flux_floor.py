"""The noise floor of the benchmarks' flux metric: how well can *any* method measure a galaxy's
flux in the benchmark aperture (radius 3 galaxy scales = 15 input pixels) from the data?

For validation pairs (seed 9,000,000; never the held-out seed) of each set this prints

* the white-noise-only scatter of an aperture sum over the observation, ``sigma sqrt(pi r^2)``,
  relative to the true aperture flux, and the median |error| a Gaussian of that width gives
  (0.674 of it): what an estimator that sums the data in the aperture cannot beat;
* the median |error| (and signed median) of the observation's own aperture flux against the
  truth's, which adds the PSF light scattered out of the aperture;
* the matched-filter floor: the simulator's matched-filter SNR of each galaxy (``Pair.snr``,
  the galaxy's own noise-free image as the filter) gives a flux scatter of 1 / SNR for an
  estimator that knows the galaxy's shape exactly (white noise), i.e. a median |error| of
  0.674 / SNR: what a perfect prior could reach.

A restoration can only go below the first number by knowing more than the aperture's pixels
(its prior on galaxy shapes acting as a matched filter). Run:
``python benchmarks/flux_floor.py [-n 40] [--sets sdss des hsc structured]``.
"""

from __future__ import annotations

import argparse
import os
import platform

import numpy as np

from galgen.evaluation import BENCHMARK_SETS, VALIDATION_SEED
from galgen.metrics.photometry import aperture_flux
from galgen.simulate import PairDataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=40)
    parser.add_argument("--sets", nargs="+", default=["sdss", "des", "hsc", "structured"])
    args = parser.parse_args()
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores; "
          f"{args.n} validation pairs per set, seed {VALIDATION_SEED}\n")
    print("| set | aperture (input px) | noise-only scatter | its median abs error | "
          "observed aperture: median abs error | signed median | matched filter: median abs error |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in args.sets:
        regime = BENCHMARK_SETS[name]
        dataset = PairDataset(args.n, VALIDATION_SEED, regime)
        r_in = 3.0 * regime.galaxy_scale / regime.in_pixel_scale
        r_out = 3.0 * regime.galaxy_scale / regime.out_pixel_scale
        noise, err, snr = [], [], []
        for i in range(args.n):
            pair = dataset.pair(i)
            f_true = aperture_flux(pair.target, r_out)
            noise.append(pair.noise_rms * np.sqrt(np.pi * r_in**2) / f_true)
            err.append(aperture_flux(pair.observation, r_in) / f_true - 1)
            snr.append(pair.snr)
        noise, err, snr = np.array(noise), np.array(err), np.array(snr)
        print(f"| {name} | {r_in:.1f} | {np.median(noise):.2%} | {np.median(0.674 * noise):.2%} | "
              f"{np.median(np.abs(err)):.2%} | {np.median(err):+.2%} | {np.median(0.674 / snr):.2%} |")


if __name__ == "__main__":
    main()
