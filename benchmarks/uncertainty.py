"""Coverage of galgen's uncertainty map, its calibration on validation data, a reliability diagram.

1. Restore validation pairs (seed 9,000,000, the ``structured`` set) with ``samples`` draws,
   the raw map (``calibrate_uncertainty=False``): posterior draws (``--uncertainty posterior``,
   the default for a model that ships a sampler) or a noise bootstrap;
2. fit ``sigma_cal^2 = (a sigma)^2 + (b |restored|)^2`` on their galaxy pixels (within 2"
   of the centre; :mod:`galgen.evaluation.coverage`), then a scale per bin of brightness
   relative to the stamp's peak, and, with ``--update-card``, store it in the model card (the
   sampler's card for posterior draws);
3. on held-out pairs (seed 10,000,000) of the in-regime ``structured`` set and the held-out
   ``merger`` family, report the raw and the calibrated coverage at 1 and 2 sigma, the time per
   stamp, and draw the reliability diagram (``docs/_static/reliability.png``).

Run: ``python benchmarks/uncertainty.py --model survey_x2 [-n 40] [--samples 16]
[--uncertainty posterior|bootstrap] [--update-card]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from galgen.evaluation import BENCHMARK_SETS
from galgen.evaluation.benchmark import BENCHMARK_SEED, VALIDATION_SEED, restore_pair
from galgen.evaluation.coverage import (
    NOMINAL,
    apply_uncertainty_calibration,
    fit_uncertainty_calibration,
    galaxy_pixels,
    relative_brightness,
    reliability,
)
from galgen.models.serialization import update_config
from galgen.restoration.posterior import posterior_directory
from galgen.restoration.registry import find_model, load_model
from galgen.simulate import PairDataset


def collect(model, regime, seed: int, n: int, samples: int) -> dict:  # noqa: ANN001
    """Galaxy-pixel residuals, raw bootstrap std and restored values of ``n`` pairs (and which
    pixels are from pairs with correlated noise)."""
    out = {"residual": [], "std": [], "restored": [], "relative": [], "pair": [], "correlated": [],
           "seconds": []}
    radius = 2.0 * regime.galaxy_scale / regime.out_pixel_scale
    dataset = PairDataset(n, seed, regime)
    for i in range(n):
        pair = dataset.pair(i)
        t0 = time.perf_counter()
        result = restore_pair(model, pair, samples=samples)
        out["seconds"].append(time.perf_counter() - t0)
        mask = galaxy_pixels(pair.target.shape, radius)
        restored = np.asarray(result.data)
        out["residual"].append((restored - pair.target)[mask])
        out["std"].append(np.asarray(result.uncertainty.array)[mask])
        out["restored"].append(restored[mask])
        out["relative"].append(relative_brightness(restored)[mask])
        out["pair"].append(np.full(int(mask.sum()), i))
        out["correlated"].append(np.full(int(mask.sum()), pair.params.get("noise") == "correlated"))
    return {k: np.concatenate(v) if k != "seconds" else np.array(v) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="default")
    parser.add_argument("-n", type=int, default=40, help="pairs per set (validation and held-out)")
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--sets", nargs="+", default=["structured", "merger"])
    parser.add_argument("--validation-set", default="structured",
                        help="set whose validation pairs the calibration is fitted on (x4 models: x4)")
    parser.add_argument("--figure", default="docs/_static/reliability.png")
    parser.add_argument("--uncertainty", default="auto", choices=("auto", "posterior", "bootstrap"))
    parser.add_argument("--update-card", action="store_true")
    parser.add_argument("--device", default="cpu", help="torch device of the model and its sampler")
    parser.add_argument("--also-from", type=int, default=None, metavar="K",
                        help="also report the held-out pairs K.. alone (pairs a previous look did not see)")
    args = parser.parse_args()
    machine = (f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, torch "
               f"{torch.__version__}, {torch.get_num_threads()} threads")
    if args.device != "cpu":
        machine += f", {args.device}: {torch.cuda.get_device_name() if torch.cuda.is_available() else '?'}"
    name = args.model if args.model != "default" else "default_x2"
    how = args.uncertainty
    if how == "auto" and posterior_directory(find_model(name)) is not None:
        how = "posterior"  # every pair through the sampler: "auto" would bootstrap correlated noise
    model = load_model(name, args.device, calibrate_uncertainty=False, uncertainty=how)
    how = "posterior" if model.posterior is not None else "bootstrap"
    t0 = time.perf_counter()
    val = collect(model, BENCHMARK_SETS[args.validation_set], VALIDATION_SEED, args.n, args.samples)
    fit = fit_uncertainty_calibration(val["residual"], val["std"], val["restored"], val["relative"])
    print(f"calibration fitted on {args.n} validation pairs (seed {VALIDATION_SEED}, {val['std'].size} "
          f"galaxy pixels): a = {fit['a']:.3f}, b = {fit['b']:.4f}, scales {fit['brightness_scale']} in bins "
          f"of |restored| / peak from {fit['brightness_edges']} (validation coverage "
          f"{fit['coverage_1sigma']:.1%} / {fit['coverage_2sigma']:.1%})")
    rows, curves = [], {}
    for set_name in args.sets:
        held = collect(model, BENCHMARK_SETS[set_name], BENCHMARK_SEED, args.n, args.samples)
        cal = apply_uncertainty_calibration(held["std"], held["restored"], fit, held["relative"])
        r = np.abs(held["residual"])
        rows.append(_row(set_name, r, held["std"], cal, held["seconds"]))
        for label, sig in (("raw", held["std"]), ("calibrated", cal)):
            curves[(set_name, label)] = reliability(r / np.maximum(sig, 1e-30))
        for kind, pixels in (("white", ~held["correlated"]), ("correlated", held["correlated"])):
            if pixels.any():  # the simulator's correlated noise (about 20 % of pairs) apart
                rows.append(_row(f"{set_name}, {kind} noise ({len(np.unique(held['pair'][pixels]))} pairs)",
                                 r[pixels], held["std"][pixels], cal[pixels], held["seconds"], subset=True))
        if args.also_from is not None:
            later = held["pair"] >= args.also_from
            rows.append(_row(f"{set_name}, pairs {args.also_from}-{args.n - 1}", r[later], held["std"][later],
                             cal[later], held["seconds"][args.also_from:], subset=True))
    print(f"\n{model.name}, {args.samples} {how} samples, {args.n} held-out pairs per set "
          f"(seed {BENCHMARK_SEED}), "
          f"{time.perf_counter() - t0:.0f} s on {machine}\n")
    print("| set | galaxy pixels | raw 1 sigma | raw 2 sigma | calibrated 1 sigma | calibrated 2 sigma "
          "| s / stamp |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['set']} | {row['pixels']} | {row['raw_1']:.1%} | {row['raw_2']:.1%} | "
              f"{row['calibrated_1']:.1%} | {row['calibrated_2']:.1%} | {row['seconds']:.2f} |")
    print(f"\n(nominal {NOMINAL[1.0]:.1%} and {NOMINAL[2.0]:.1%})")
    _figure(curves, args.figure, f"{model.name} ({how})")
    if args.update_card:
        card_dir = find_model(name) / "posterior" if how == "posterior" else find_model(name)
        update_config(card_dir, {"uncertainty_calibration": {
            "a": round(fit["a"], 5), "b": round(fit["b"], 6),
            "brightness_edges": fit["brightness_edges"],
            "brightness_scale": [round(k, 4) for k in fit["brightness_scale"]],
            "model": f"sigma = sqrt((a sigma_{how})^2 + (b |restored|)^2) x brightness_scale[bin of "
                     "|restored| / stamp peak, lower edges brightness_edges]",
            "fitted_on": f"{args.n} validation pairs of the {args.validation_set} set, seed "
                         f"{VALIDATION_SEED}, {args.samples} samples, galaxy pixels within 2 arcsec",
            "held_out_coverage": {row["set"]: {"1sigma": round(row["calibrated_1"], 4),
                                               "2sigma": round(row["calibrated_2"], 4)}
                                  for row in rows if not row.get("subset")},
            "raw_held_out_coverage": {row["set"]: {"1sigma": round(row["raw_1"], 4),
                                                   "2sigma": round(row["raw_2"], 4)}
                                      for row in rows if not row.get("subset")},
            "machine": machine, "date": time.strftime("%Y-%m-%d")}})
        print("model card updated")


def _row(name: str, r: np.ndarray, raw: np.ndarray, cal: np.ndarray, seconds: np.ndarray, **extra) -> dict:
    """One table row: pixels, the raw and calibrated coverage at 1 and 2 sigma of ``|residual|``
    ``r``, and the median seconds a stamp."""
    row = {"set": name, "pixels": int(r.size), "seconds": float(np.median(seconds)), **extra}
    for label, sig in (("raw", raw), ("calibrated", cal)):
        row[f"{label}_1"] = float(np.mean(r <= sig))
        row[f"{label}_2"] = float(np.mean(r <= 2 * sig))
    return row


def _figure(curves: dict, path: str, name: str) -> None:
    from galgen.plotting import new_figure, save_figure

    fig, ax = new_figure(figsize=(4.6, 4.2))
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls=":", label="ideal (y = x)")
    styles = {"raw": "--", "calibrated": "-"}
    for (set_name, label), (nominal, observed) in curves.items():
        ax.plot(nominal, observed, ls=styles[label], label=f"{set_name}, {label}")
    ax.set_xlabel("nominal Gaussian coverage")
    ax.set_ylabel("observed coverage (galaxy pixels)")
    ax.set_title(f"{name}: uncertainty map reliability", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    save_figure(fig, path)


if __name__ == "__main__":
    main()
