"""Stamps outside every shipped model's regime: which model should the default give them to?

The router (:class:`galgen.restoration.router.RegimeRouter`) gives a stamp that no model's regime holds
to the model nearest to holding it (:data:`galgen.restoration.router.NEARER`); until session 26
it gave them all to the primary model, ``default_x2``, whatever their sampling. Five sets of the
structured galaxies, each PSF given as an image, compare the default with both x2 models and
tuned Richardson-Lucy (at the target PSF, on the output grid):

* PSFs under every model's range (1.25-1.9 input pixels): Euclid-VIS-like (0.1"/px, 0.15-0.19"),
  HST-like (0.05"/px, 0.08-0.095") and 0.2"/px with 0.25-0.38" seeing, round Moffats;
* PSFs wider than every range at 0.2"/px (1.6-2.0", 8-10 pixels): the zoo's ground PSFs, and
  round Moffats.

Run: ``python benchmarks/out_of_regime.py -n 60`` (validation pairs, seed 9,000,000) and, once,
after the rule is chosen, ``python benchmarks/out_of_regime.py -n 80 --held-out``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from _report import add_held_out, machine, print_summary, seed_of

from galgen.evaluation.benchmark import run_benchmark, survey_regime

SETS = {
    'Euclid-like: 0.1"/px, Moffat 0.15-0.19"': replace(survey_regime(0.1, (0.15, 0.19)), psf_kind="moffat"),
    'HST-like: 0.05"/px, Moffat 0.08-0.095"': replace(survey_regime(0.05, (0.08, 0.095)), psf_kind="moffat"),
    '0.2"/px, Moffat 0.25-0.38"': replace(survey_regime(0.2, (0.25, 0.38)), psf_kind="moffat"),
    '0.2"/px, ground PSFs of the zoo 1.6-2.0"': survey_regime(0.2, (1.6, 2.0)),
    '0.2"/px, Moffat 1.6-2.0"': replace(survey_regime(0.2, (1.6, 2.0)), psf_kind="moffat"),
}
COLUMNS = [("median_psnr", "PSNR (dB)", ".2f"), ("median_abs_flux_error", "median abs flux err", ".2%"),
           ("median_abs_hlr_error", "median abs hlr err", ".2%"), ("median_chi2", "median chi2", ".2f")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=60)
    add_held_out(parser)
    args = parser.parse_args()
    seed = seed_of(args)
    for name, regime in SETS.items():
        t0 = time.perf_counter()
        table = run_benchmark(args.n, ("default", "default_x2", "survey_x2", "richardson_lucy"), regime,
                              seed=seed, progress=False)
        print(f"\n### {name}: {args.n} pairs (seed {seed}), {time.perf_counter() - t0:.0f} s on "
              f"{machine()}\n")
        print_summary(table, COLUMNS)


if __name__ == "__main__":
    main()
