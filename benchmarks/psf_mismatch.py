"""How much does a wrong PSF cost? Gain over Richardson-Lucy when the PSF given is off in size.

The held-out pairs of a survey set (default ``sdss``: 0.396"/px, held-out ground-based PSF
images; seed 10,000,000) are restored with the PSF image the methods are *given* dilated by
``1 + bias`` (the data are the same for every bias: ``Regime.psf_bias``). Richardson-Lucy keeps
the iterations tuned per PSF/SNR bin on validation pairs with the exact PSF, as a user who
does not know their PSF is wrong would. Prints one Markdown table.

Run: ``python benchmarks/psf_mismatch.py --model survey_x2 [-n 60] [--set sdss]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import replace

import numpy as np
import torch

from galgen.evaluation import BENCHMARK_SETS
from galgen.evaluation.benchmark import VALIDATION_SEED, run_benchmark, summarize
from galgen.evaluation.tuning import tune_baselines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="default")
    parser.add_argument("--set", default="sdss")
    parser.add_argument("-n", type=int, default=60)
    parser.add_argument("--biases", type=float, nargs="+", default=[-0.10, -0.05, 0.0, 0.05, 0.10])
    args = parser.parse_args()
    machine = (f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, torch "
               f"{torch.__version__}, {torch.get_num_threads()} threads")
    base = BENCHMARK_SETS[args.set]
    t0 = time.perf_counter()
    tuning = tune_baselines(base, VALIDATION_SEED, 72, methods=("richardson_lucy",))
    rows = []
    for bias in args.biases:
        table = run_benchmark(args.n, (args.model, "richardson_lucy"), replace(base, psf_bias=bias),
                              tuning=tuning, progress=False)
        summary = {r["method"]: r for r in summarize(table)}
        model = next(m for m in summary if m != "richardson_lucy")
        rl = summary["richardson_lucy"]
        rows.append((bias, model, float(summary[model]["median_psnr"]), float(rl["median_psnr"]),
                     float(summary[model]["median_abs_flux_error"]), float(rl["median_abs_flux_error"]),
                     float(np.median(np.asarray(table["chi2"][table["method"] == model], float)))))
    print(f"\n### PSF mismatch on the {args.set} set: {args.n} held-out galaxies per row, "
          f"{time.perf_counter() - t0:.0f} s on {machine}\n")
    print("| PSF size given | model | PSNR model (dB) | PSNR RL (dB) | gain (dB) | abs flux err model | "
          "abs flux err RL | median chi2 model |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for bias, model, p_m, p_rl, f_m, f_rl, chi2 in rows:
        print(f"| {bias:+.0%} | {model} | {p_m:.2f} | {p_rl:.2f} | {p_m - p_rl:+.2f} | {f_m:.2%} "
              f"| {f_rl:.2%} | {chi2:.2f} |")


if __name__ == "__main__":
    main()
