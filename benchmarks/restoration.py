"""The restoration benchmarks behind docs/benchmarks.md and the model card.

For each held-out set (``galgen.evaluation.BENCHMARK_SETS``: structured, merger, cosmos) runs
``galgen evaluate --benchmark SET``: held-out pairs (seed 10,000,000), every baseline on the
model's output grid and target PSF with its parameters tuned per PSF/SNR bin on validation
pairs (seed 9,000,000), and prints one Markdown table per set. ``--model`` compares another
model directory with the shipped one; ``--update-card`` writes the numbers into the shipped
``default_x2`` model card.

Run: ``python benchmarks/restoration.py [-n 200] [--sets structured merger cosmos]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from galgen.evaluation import BENCHMARK_SETS, benchmark_report
from galgen.models.serialization import update_config
from galgen.restoration.registry import shipped_models

COLUMNS = [("median_psnr", "PSNR (dB)", ".2f"), ("median_ssim", "SSIM", ".3f"),
           ("median_abs_flux_error", "median abs flux err", ".2%"),
           ("median_flux_error", "median flux err", "+.2%"),
           ("median_abs_hlr_error", "median abs hlr err", ".2%"),
           ("median_abs_e_error", "median ellipticity err", ".3f"),
           ("median_abs_e_iso_error", "median isophotal e err", ".3f"),
           ("median_chi2", "median chi2", ".2f"), ("median_seconds", "s / stamp", ".3f")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--sets", nargs="+", default=list(BENCHMARK_SETS), choices=list(BENCHMARK_SETS))
    parser.add_argument("--model", action="append", default=[], help="extra model directory to compare")
    parser.add_argument("--out", default="benchmarks/results/restoration")
    parser.add_argument("--update-card", action="store_true")
    args = parser.parse_args()
    machine = (f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, torch "
               f"{torch.__version__}, {torch.get_num_threads()} threads")
    methods = ("default", *args.model, "richardson_lucy", "wiener", "wiener_target", "bicubic")
    card = {}
    for name in args.sets:
        t0 = time.perf_counter()
        table, summary = benchmark_report(f"{args.out}/{name}", args.n, benchmark=name, progress=False,
                                          methods=methods)
        wall = time.perf_counter() - t0
        print(f"\n### {name}: {args.n} galaxies (seed {table.meta['seed']}; baselines tuned on seed "
              f"{table.meta['validation_seed']}), {wall:.0f} s on {machine}\n")
        print("| method | " + " | ".join(c[1] for c in COLUMNS) + " |")
        print("| --- " * (len(COLUMNS) + 1) + "|")
        for row in summary:
            cells = " | ".join(format(float(row[c]), f) for c, _, f in COLUMNS)
            print(f"| {row['method']} | {cells} |")
        rows = {r["method"]: {c: round(float(r[c]), 5) for c, _, _ in COLUMNS} for r in summary}
        best_baseline = max((m for m in rows if m in ("richardson_lucy", "wiener", "wiener_target")),
                            key=lambda m: rows[m]["median_psnr"])
        default = str(summary["method"][0])  # the "default" method (a router's name joins its models)
        card[name] = {"methods": rows, "best_baseline": best_baseline, "default_method": default,
                      "psnr_gain_db_over_rl": round(rows[default]["median_psnr"]
                                                    - rows["richardson_lucy"]["median_psnr"], 3)}
        print(f"\nbest baseline by PSNR: {best_baseline}")
    if args.update_card and "default_x2" in shipped_models():
        update_config(shipped_models()["default_x2"], {"metrics": {
            "benchmark": f"python benchmarks/restoration.py -n {args.n} (held-out seed 10000000; baselines "
                         "on the model's grid and 0.2 arcsec target PSF, tuned per PSF/SNR bin on seed "
                         "9000000; flux and size in a 3 arcsec radius aperture)",
            "machine": machine, "date": time.strftime("%Y-%m-%d"), "sets": card}})
        print("\nmodel card updated")


if __name__ == "__main__":
    main()
