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
predicts), and the restoration's flux corrected by the residual ``observation - A(restored)``
summed in a Gaussian window of 4, 6 or 8 input pixels (its data-driven correction where the
galaxy is bright; a window over the whole aperture would return the aperture sum). With
``--sersic`` the first table adds a forward-model fit: a Sersic profile (astropy's
``Sersic2D``, free flux, centre, size, index, ellipticity and angle) convolved with the true
PSF image and fitted to the observation by least squares, its aperture flux on the truth's
aperture. Run: ``python benchmarks/flux_floor.py [-n 40] [--sets sdss des hsc structured]
[--model survey_x2] [--sersic]``.
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
    parser.add_argument("--sersic", action="store_true", help="add a forward-model Sersic fit's flux")
    args = parser.parse_args()
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores; "
          f"{args.n} validation pairs per set, seed {VALIDATION_SEED}\n")
    print("| set | aperture (input px) | noise-only scatter | its median abs error | "
          "observed aperture: median abs error | signed median | matched filter: median abs error |"
          + (" Sersic fit: median abs (signed) |" if args.sersic else ""))
    print("| --- " * (8 if args.sersic else 7) + "|")
    for name in args.sets:
        regime, pairs, r_in, r_out = _validation_pairs(name, args.n)
        noise, err, snr, sersic = [], [], [], []
        for pair in pairs:
            f_true = aperture_flux(pair.target, r_out)
            noise.append(pair.noise_rms * np.sqrt(np.pi * r_in**2) / f_true)
            err.append(aperture_flux(pair.observation, r_in) / f_true - 1)
            snr.append(pair.snr)
            if args.sersic:
                sersic.append(aperture_flux(_sersic_fit(pair), r_in) / aperture_flux(pair.target, r_out) - 1)
        noise, err, snr, sersic = np.array(noise), np.array(err), np.array(snr), np.array(sersic)
        extra = f" {np.median(np.abs(sersic)):.2%} ({np.median(sersic):+.2%}) |" if args.sersic else ""
        print(f"| {name} | {r_in:.1f} | {np.median(noise):.2%} | {np.median(0.674 * noise):.2%} | "
              f"{np.median(np.abs(err)):.2%} | {np.median(err):+.2%} | {np.median(0.674 / snr):.2%} |"
              + extra, flush=True)
    if args.model:
        _model_table(args)


def _validation_pairs(name: str, n: int):  # noqa: ANN202
    """The set's regime, its ``n`` validation pairs (a generator) and the benchmark aperture's
    radius (3 galaxy scales) in input and output pixels."""
    regime = BENCHMARK_SETS[name]
    dataset = PairDataset(n, VALIDATION_SEED, regime)
    return (regime, (dataset.pair(i) for i in range(n)), 3.0 * regime.galaxy_scale / regime.in_pixel_scale,
            3.0 * regime.galaxy_scale / regime.out_pixel_scale)


def _sersic_fit(pair, oversample: int = 3) -> np.ndarray:  # noqa: ANN001 - a simulate.Pair
    """The intrinsic (unblurred) Sersic image, on the observation's grid, that blurred by the
    pair's PSF image fits its observation best (``scipy.optimize.least_squares``, noise-weighted).
    astropy's ``Sersic2D`` draws the profile (on a grid ``oversample`` times finer, binned), not
    GalSim's ``Sersic``, which rebuilds its tables for every new index during a fit."""
    from astropy.modeling.models import Sersic2D
    from scipy.optimize import least_squares
    from scipy.signal import fftconvolve

    data, sigma = pair.observation.astype(float), float(pair.noise_rms)
    psf = pair.psf / pair.psf.sum()
    ny, nx = data.shape
    yy, xx = (np.mgrid[0:ny * oversample, 0:nx * oversample] + 0.5) / oversample - 0.5

    def intrinsic(p: np.ndarray) -> np.ndarray:
        flux, x0, y0, r_eff, n, ellip, theta = p
        img = Sersic2D(1.0, r_eff, n, x0, y0, ellip, theta)(xx, yy)
        img = img.reshape(ny, oversample, nx, oversample).sum(axis=(1, 3))
        return flux * img / img.sum()

    def residual(p: np.ndarray) -> np.ndarray:
        return ((fftconvolve(intrinsic(p), psf, mode="same") - data) / sigma).ravel()

    cy, cx = (ny - 1) / 2, (nx - 1) / 2
    f0 = max(float(data.sum()), sigma)
    lower = [0, cx - 5, cy - 5, 0.3, 0.4, 0.0, -np.pi]  # flux, x0, y0, r_eff (px), n, ellip, theta
    upper = [np.inf, cx + 5, cy + 5, nx, 6.0, 0.9, np.pi]
    fit = least_squares(residual, [f0, cx, cy, 3.0, 1.5, 0.2, 0.0], bounds=(lower, upper),
                        x_scale=[f0, 1, 1, 1, 1, 0.3, 1], max_nfev=300)
    return intrinsic(fit.x)


WINDOWS = (4.0, 6.0, 8.0)  # input pixels: Gaussian sigma of the residual-correction window


def _model_table(args: argparse.Namespace) -> None:
    from galgen.evaluation.benchmark import restore_pair
    from galgen.restoration.registry import load_model

    model = load_model(args.model, flux_calibrate=False)
    print(f"\n{model.name}: median abs (signed) flux error in the same aperture\n")
    print("| set | the restoration's aperture flux | x least-squares scale, restored shape | "
          "least-squares scale of the true shape | "
          + " | ".join(f"+ residual in a {w:g}-px window" for w in WINDOWS) + " |")
    print("| --- " * (4 + len(WINDOWS)) + "|")
    for name in args.sets:
        regime, pairs, _, r_out = _validation_pairs(name, args.n)
        ps = regime.in_pixel_scale
        rows = []
        for pair in pairs:
            rest, truth = np.asarray(restore_pair(model, pair).data, float), pair.target.astype(float)
            observed = pair.observation.astype(float)  # sky-subtracted, no masked pixels
            f_true, f_rest = aperture_flux(truth, r_out), aperture_flux(rest, r_out)
            alpha, predicted = {}, {}
            for key, shape in (("rest", rest), ("truth", truth)):
                predicted[key] = model.reconvolve(shape, pair.psf_fwhm, ps, pair.psf)
                alpha[key] = model.flux_calibration(observed, shape, pair.noise_rms, pair.psf_fwhm, ps,
                                                    predicted=predicted[key])
            yy, xx = np.indices(observed.shape)
            r2 = (yy - (observed.shape[0] - 1) / 2) ** 2 + (xx - (observed.shape[1] - 1) / 2) ** 2
            left = observed - predicted["rest"]  # A conserves flux: summed, it is the flux the output misses
            windowed = [(f_rest + np.sum(np.exp(-0.5 * r2 / w**2) * left)) / f_true - 1 for w in WINDOWS]
            rows.append((f_rest / f_true - 1, alpha["rest"] * f_rest / f_true - 1, alpha["truth"] - 1,
                         *windowed))
        a = np.array(rows)
        cells = [f"{np.median(np.abs(c)):.2%} ({np.median(c):+.2%})" for c in a.T]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
