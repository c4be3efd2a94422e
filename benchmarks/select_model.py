"""Model selection on validation pairs only (seed 9,000,000): compare learned models set by set.

The held-out seeds (10,000,000) are for the chosen model's benchmark, looked at once after the
choice; this script never touches them. Prints one Markdown table per set.

Run: ``python benchmarks/select_model.py --models default_x2 galgen/weights/survey_x2
[--sets structured cosmos sdss] [-n 60]``.
"""

from __future__ import annotations

import argparse
import time

from _report import machine, print_summary

from galgen.evaluation import BENCHMARK_SETS
from galgen.evaluation.benchmark import VALIDATION_SEED, run_benchmark

COLUMNS = [("median_psnr", "PSNR (dB)", ".2f"), ("median_abs_flux_error", "abs flux err", ".2%"),
           ("median_abs_hlr_error", "abs hlr err", ".2%"), ("median_abs_e_error", "e err", ".3f"),
           ("median_abs_e_iso_error", "isophotal e err", ".3f"),
           ("median_chi2", "chi2", ".2f")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--sets", nargs="+", default=["structured", "cosmos", "sdss"],
                        choices=list(BENCHMARK_SETS))
    parser.add_argument("-n", type=int, default=60)
    args = parser.parse_args()
    from galgen.models.serialization import read_config
    from galgen.restoration.registry import find_model

    names = [read_config(find_model(m))["name"] for m in args.models]
    if len(set(names)) < len(names):  # the tables are keyed by the card's name: rows would merge
        parser.error(f"two models share a card name ({names}); give one copy another name in its config.json")
    for name in args.sets:
        t0 = time.perf_counter()
        table = run_benchmark(args.n, tuple(args.models), BENCHMARK_SETS[name], seed=VALIDATION_SEED,
                              progress=False)
        print(f"\n### {name}: {args.n} validation pairs (seed {VALIDATION_SEED}), "
              f"{time.perf_counter() - t0:.0f} s on {machine()}\n")
        print_summary(table, COLUMNS, first="model")


if __name__ == "__main__":
    main()
