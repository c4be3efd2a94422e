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
(its prior on galaxy shapes acting as a matched filter). With ``--model M`` a second table
compares, on the same pairs, the model's own aperture flux with two least-squares flux scales
through the PSF (``LearnedRestorer.flux_calibration``): one with the restoration's shape as the
template, one with the true shape (the matched filter the last column of the first table
predicts). Run: ``python benchmarks/flux_floor.py [-n 40] [--sets sdss des hsc structured]
[--model survey_x2]``.
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
    parser.add_argument("--model", default=None, help="also compare a model's flux estimates")
    args = parser.parse_args()
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores; "
          f"{args.n} validation pairs per set, seed {VALIDATION_SEED}\n")
    print("| set | aperture (input px) | noise-only scatter | its median abs error | "
          "observed aperture: median abs error | signed median | matched filter: median abs error |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in args.sets:
        regime, pairs, r_in, r_out = _validation_pairs(name, args.n)
        noise, err, snr = [], [], []
        for pair in pairs:
            f_true = aperture_flux(pair.target, r_out)
            noise.append(pair.noise_rms * np.sqrt(np.pi * r_in**2) / f_true)
            err.append(aperture_flux(pair.observation, r_in) / f_true - 1)
            snr.append(pair.snr)
        noise, err, snr = np.array(noise), np.array(err), np.array(snr)
        print(f"| {name} | {r_in:.1f} | {np.median(noise):.2%} | {np.median(0.674 * noise):.2%} | "
              f"{np.median(np.abs(err)):.2%} | {np.median(err):+.2%} | {np.median(0.674 / snr):.2%} |")
    if args.model:
        _model_table(args)


def _validation_pairs(name: str, n: int):  # noqa: ANN202
    """The set's regime, its ``n`` validation pairs (a generator) and the benchmark aperture's
    radius (3 galaxy scales) in input and output pixels."""
    regime = BENCHMARK_SETS[name]
    dataset = PairDataset(n, VALIDATION_SEED, regime)
    return (regime, (dataset.pair(i) for i in range(n)), 3.0 * regime.galaxy_scale / regime.in_pixel_scale,
            3.0 * regime.galaxy_scale / regime.out_pixel_scale)


def _model_table(args: argparse.Namespace) -> None:
    from galgen.evaluation.benchmark import restore_pair
    from galgen.restoration.model import load_model

    model = load_model(args.model, flux_calibrate=False)
    print(f"\n{model.name}: median abs (signed) flux error in the same aperture\n")
    print("| set | the restoration's aperture flux | x least-squares scale, restored shape | "
          "least-squares scale of the true shape |")
    print("| --- | --- | --- | --- |")
    for name in args.sets:
        regime, pairs, _, r_out = _validation_pairs(name, args.n)
        ps = regime.in_pixel_scale
        rows = []
        for pair in pairs:
            rest, truth = np.asarray(restore_pair(model, pair).data, float), pair.target.astype(float)
            observed = pair.observation.astype(float)  # sky-subtracted, no masked pixels
            f_true, f_rest = aperture_flux(truth, r_out), aperture_flux(rest, r_out)
            alpha = {}
            for key, shape in (("rest", rest), ("truth", truth)):
                predicted = model.reconvolve(shape, pair.psf_fwhm, ps, pair.psf)
                alpha[key] = model.flux_calibration(observed, shape, pair.noise_rms, pair.psf_fwhm, ps,
                                                    predicted=predicted)
            rows.append((f_rest / f_true - 1, alpha["rest"] * f_rest / f_true - 1, alpha["truth"] - 1))
        a = np.array(rows)
        cells = [f"{np.median(np.abs(c)):.2%} ({np.median(c):+.2%})" for c in a.T]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
