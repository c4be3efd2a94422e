"""Fit the residual flux calibration's window and weight (``LearnedRestorer.residual_flux_scale``)
on development pairs, as session 22 did for ``survey_x2``.

For ``n`` pairs of each set (seed ``--seed``; session 22 used 8,000,000, a seed no other run
uses, for the fit, and only then the validation seed 9,000,000 through
``benchmarks/select_model.py``) the model restores each observation *without* flux
calibration; for every window (Gaussian sigma in input pixels) the residual
``observation - A(restored)`` is summed in the window about the centre, and for every weight
``w`` the flux in the benchmark aperture (15 input pixels) becomes ``F + w sum(g r)``. Printed:
the median |flux error| per set and their mean for each (window, weight), the model's own and
its least-squares-calibrated flux for reference, and the best pair (the card's
``flux_residual``: ``window_arcsec`` = window x the training pixel scale, ``weight``).

Run: ``python benchmarks/flux_residual_fit.py --model galgen/weights/survey_x2 --sets sdss des
structured -n 200 --seed 8000000``.

With ``--cross-validate K`` it also asks whether several windows together do better than one
(session 29): ``alpha = 1 + sum_k w_k sum(g_k r) / F`` (with ``--bias``, plus a constant), the
weights fitted by least absolute deviations (the metric is a median of absolute errors) on
``K - 1`` folds of the pairs of every set and scored on the fold left out; printed beside the
single best window refitted the same way.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from galgen.evaluation import BENCHMARK_SETS
from galgen.evaluation.benchmark import restore_pair
from galgen.metrics.photometry import aperture_flux
from galgen.restoration.registry import load_model
from galgen.simulate import PairDataset


def features(model, name: str, n: int, seed: int, windows: tuple[float, ...]) -> np.ndarray:  # noqa: ANN001
    """``(n, 3 + len(windows))``: true aperture flux, the restoration's, its least-squares scale,
    then the residual summed in each window."""
    regime = BENCHMARK_SETS[name]
    dataset = PairDataset(n, seed, regime)
    r_out = 3.0 * regime.galaxy_scale / regime.out_pixel_scale
    rows = []
    for i in range(n):
        pair = dataset.pair(i)
        rest = np.asarray(restore_pair(model, pair).data, float)
        obs = pair.observation.astype(float)
        predicted = model.reconvolve(rest, pair.psf_fwhm, regime.in_pixel_scale, pair.psf)
        ls = model.flux_calibration(obs, rest, pair.noise_rms, pair.psf_fwhm, regime.in_pixel_scale,
                                    predicted=predicted)
        yy, xx = np.indices(obs.shape)
        r2 = (yy - (obs.shape[0] - 1) / 2) ** 2 + (xx - (obs.shape[1] - 1) / 2) ** 2
        left = obs - predicted
        rows.append([aperture_flux(pair.target.astype(float), r_out), aperture_flux(rest, r_out), ls,
                     *(np.sum(np.exp(-0.5 * r2 / w**2) * left) for w in windows)])
    return np.array(rows)


def least_absolute(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Weights minimising ``sum |y - x w|`` (a linear programme: scipy's HiGHS)."""
    from scipy.optimize import linprog

    n, k = x.shape
    cost = np.concatenate([np.zeros(2 * k), np.ones(2 * n)])
    result = linprog(cost, A_eq=np.hstack([x, -x, np.eye(n), -np.eye(n)]), b_eq=y, bounds=(0, None),
                     method="highs")
    return result.x[:k] - result.x[k:2 * k]


def cross_validate(data: dict[str, np.ndarray], columns: list[int], folds: int, bias: bool) -> list[float]:
    """Median |flux error| per set of the window ``columns`` (indices into ``--windows``) fitted
    together on the other folds."""
    scored: dict[str, list[np.ndarray]] = {name: [] for name in data}
    for fold in range(folds):
        xs, ys, held = [], [], {}
        for name, a in data.items():
            terms = [a[:, 3 + c] / a[:, 1] for c in columns] + ([np.ones(len(a))] if bias else [])
            x = np.column_stack(terms)
            test = np.arange(len(a)) % folds == fold
            xs.append(x[~test])
            ys.append(a[~test, 0] / a[~test, 1] - 1)
            held[name] = (x[test], a[test])
        w = least_absolute(np.vstack(xs), np.concatenate(ys))
        for name, (x, a) in held.items():
            scored[name].append(np.abs(a[:, 1] * (1 + x @ w) / a[:, 0] - 1))
    return [float(np.median(np.concatenate(v))) for v in scored.values()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="galgen/weights/survey_x2")
    parser.add_argument("--sets", nargs="+", default=["sdss", "des", "structured"])
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=8_000_000)
    parser.add_argument("--windows", type=float, nargs="+", default=[2, 3, 4, 6, 8, 12],
                        help="Gaussian window sigmas, input pixels")
    parser.add_argument("--weights", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0])
    parser.add_argument("--cross-validate", type=int, default=0, metavar="K",
                        help="also fit all windows together, K-fold cross-validated (0: no)")
    parser.add_argument("--bias", action="store_true", help="with --cross-validate: fit a constant too")
    args = parser.parse_args()
    model = load_model(args.model, flux_calibrate=False)
    start = time.perf_counter()
    data = {name: features(model, name, args.n, args.seed, tuple(args.windows)) for name in args.sets}
    print(f"{model.name}, {args.n} pairs a set (seed {args.seed}), {time.perf_counter() - start:.0f} s on "
          f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores\n")

    def median_error(a: np.ndarray, flux: np.ndarray) -> float:
        return float(np.median(np.abs(flux / a[:, 0] - 1)))

    print("| estimate | " + " | ".join(args.sets) + " | mean |")
    print("| --- " * (len(args.sets) + 2) + "|")

    def row(label: str, errors: list[float]) -> None:
        print(f"| {label} | " + " | ".join(f"{e:.2%}" for e in errors) + f" | {np.mean(errors):.2%} |")

    row("restoration's own flux", [median_error(a, a[:, 1]) for a in data.values()])
    row("least-squares scale", [median_error(a, a[:, 1] * a[:, 2]) for a in data.values()])
    best = (np.inf, 0.0, 0.0)
    for k, window in enumerate(args.windows):
        for weight in args.weights:
            errors = [median_error(a, a[:, 1] + weight * a[:, 3 + k]) for a in data.values()]
            row(f"residual, {window:g} px, w {weight:g}", errors)
            best = min(best, (float(np.mean(errors)), window, weight))
    scale = float(model.regime.get("in_pixel_scale", 0.2))
    print(f"\nbest: window {best[1]:g} input pixels (window_arcsec {best[1] * scale:g}), weight {best[2]:g}, "
          f"mean median |flux error| {best[0]:.2%}")
    if args.cross_validate:
        k = args.cross_validate
        extra = " with a constant" if args.bias else ""
        print(f"\n{k}-fold cross-validated least-absolute-deviation fits{extra}:")
        print("| windows | " + " | ".join(args.sets) + " | mean |")
        print("| --- " * (len(args.sets) + 2) + "|")
        row(f"{best[1]:g} px alone", cross_validate(data, [args.windows.index(best[1])], k, args.bias))
        row("all of " + ", ".join(f"{w:g}" for w in args.windows) + " px",
            cross_validate(data, list(range(len(args.windows))), k, args.bias))


if __name__ == "__main__":
    main()
