"""The restoration benchmark behind docs/benchmarks.md and the model card.

Runs ``galgen evaluate --benchmark default`` (held-out pairs, seed 10,000,000; RL iterations
chosen on validation pairs, seed 9,000,000), prints a Markdown table, and with
``--update-card`` writes the numbers into ``galgen/weights/default_x2/config.json``.

Run: ``python benchmarks/restoration.py [-n 200] [--out benchmarks/results/restoration]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from galgen.evaluation import benchmark_report
from galgen.models.serialization import update_config
from galgen.restoration.model import shipped_models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--out", default="benchmarks/results/restoration")
    parser.add_argument("--update-card", action="store_true")
    args = parser.parse_args()
    machine = (f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, torch "
               f"{torch.__version__}, {torch.get_num_threads()} threads")
    t0 = time.perf_counter()
    table, summary = benchmark_report(args.out, args.n, progress=False)
    wall = time.perf_counter() - t0
    print(f"machine: {machine}; {args.n} galaxies; {wall:.0f} s in all; "
          f"RL iterations {table.meta['rl_iterations']}\n")
    cols = [("median_psnr", "PSNR (dB)", ".2f"), ("median_ssim", "SSIM", ".3f"),
            ("median_abs_flux_error", "median abs flux err", ".2%"),
            ("median_flux_error", "median flux err", "+.2%"),
            ("median_abs_hlr_error", "median abs hlr err", ".2%"),
            ("median_abs_e_error", "median ellipticity err", ".3f"),
            ("median_chi2", "median chi2", ".2f"), ("median_seconds", "s / stamp", ".3f")]
    print("| method | " + " | ".join(c[1] for c in cols) + " |")
    print("| --- " * (len(cols) + 1) + "|")
    for row in summary:
        print(f"| {row['method']} | " + " | ".join(format(float(row[c]), f) for c, _, f in cols) + " |")
    if args.update_card and "default_x2" in shipped_models():
        model_rows = [r for r in summary if r["method"] == "default_x2"]
        rl = [r for r in summary if r["method"] == "richardson_lucy"][0]
        metrics = {c: float(model_rows[0][c]) for c, _, _ in cols}
        baseline = {c: float(rl[c]) for c, _, _ in cols}
        update_config(shipped_models()["default_x2"], {"metrics": {
            "benchmark": f"galgen evaluate --benchmark default -n {args.n} (held-out seed 10000000; "
                         "flux and size in a 3 arcsec radius aperture)",
            "machine": machine, "date": time.strftime("%Y-%m-%d"),
            "default_x2": metrics, f"richardson_lucy_{table.meta['rl_iterations']}_iterations": baseline,
            "psnr_gain_db": metrics["median_psnr"] - baseline["median_psnr"]}})
        print("\nmodel card updated")


if __name__ == "__main__":
    main()
