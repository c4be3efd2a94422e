"""Does the residual-structure statistic tell a supported restoration from an unsupported one?

For each set, ``n`` pairs are restored four ways through the engine (``restore_pair``: the
header values every output gets): the model with the right PSF; ``bicubic`` (an interpolation
that invents nothing and deconvolves nothing); the model given a PSF ``1 + bias`` times too wide
and one too narrow (``Regime.psf_bias``; the data are the same). Prints, per set and case, the
median chi^2 (``GALGENX2``), residual structure z (``GALGENRZ``) and its relative size f
(``GALGENRF``), and how often each flag fires: ``CHI2HIGH``/``CHI2LOW`` (chi^2 > 1.5 or < 0.5)
and ``STRUCT`` (|z| and |f| above their limits).
A fifth case checks a bicubic upsampling as if it were a restoration to the target PSF.

``--seed`` picks the pairs: the validation seed (9,000,000) to choose the limits, a held-out seed
once, after (10,000,000 for the z limit; 13,000,000 for the size limit f, the shipped flag).
Run: ``python benchmarks/hallucination.py [-n 300] [--seed 9000000] [--sets structured sdss des
hsc] [--save flags.npz]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import replace

import numpy as np
import torch
from astropy.io import fits

from galgen.evaluation import BENCHMARK_SETS
from galgen.evaluation.benchmark import VALIDATION_SEED, restore_pair
from galgen.metrics.consistency import data_consistency, reconvolve_with_psf, residual_structure_terms
from galgen.restoration import get_method
from galgen.restoration.flags import CHI2_LIMIT, CHI2_LOW_LIMIT, STRUCTURE_FRACTION_LIMIT, STRUCTURE_LIMIT
from galgen.simulate import PairDataset

#: The cases ``--cases`` chooses from, in the order of the table.
CASES = ("model", "bicubic", "passed_off", "wide", "narrow")


def header_values(restorer, regime, n: int, seed: int, *,  # noqa: ANN001
                  passed_off: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(chi2, z, f, snr)`` of ``n`` pairs of ``regime`` restored by ``restorer``. With ``passed_off``,
    the output is checked as if it were a restoration to the regime's target PSF (what a user
    handed a bicubic upsampling labelled "restored" would check)."""
    ds = PairDataset(n, seed, regime)
    chi2, z, f, snr = [], [], [], []
    for i in range(n):
        pair = ds.pair(i)
        snr.append(pair.snr)
        result = restore_pair(restorer, pair)
        if passed_off:
            scale = regime.factor
            predicted = reconvolve_with_psf(np.nan_to_num(result.data), pair.psf, regime.in_pixel_scale,
                                            scale, regime.target_psf_fwhm)
            c2, _ = data_consistency(result.data, pair.observation, pair.noise_rms, pair.psf_fwhm,
                                     regime.out_pixel_scale, scale, predicted=predicted)
            chi2.append(c2)
            zi, fi = residual_structure_terms(pair.observation, predicted, pair.noise_rms,
                                              pair.psf_fwhm / regime.in_pixel_scale)
            z.append(zi)
            f.append(fi)
            continue
        header = fits.Header(result.meta)
        chi2.append(header["GALGENX2"])
        z.append(header.get("GALGENRZ", np.nan))
        f.append(header.get("GALGENRF", np.nan))
    return np.asarray(chi2), np.asarray(z), np.asarray(f), np.asarray(snr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=40)
    parser.add_argument("--seed", type=int, default=VALIDATION_SEED)
    parser.add_argument("--sets", nargs="+", default=["structured", "sdss"])
    parser.add_argument("--bias", type=float, default=0.3, help="relative PSF size error of the wrong PSFs")
    parser.add_argument("--model", default="default")
    parser.add_argument("--print-z", action="store_true", help="list every |z| (to choose the limit)")
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES),
                        help="which of the five cases to run (default all)")
    parser.add_argument("--save", metavar="NPZ", help="write each pair's chi2, z, f and SNR per set and case")
    args = parser.parse_args()
    saved = {}
    t0 = time.perf_counter()
    print(f"seed {args.seed}, {args.n} pairs a set; flags: CHI2HIGH chi2 > {CHI2_LIMIT}, "
          f"CHI2LOW chi2 < {CHI2_LOW_LIMIT}, STRUCT |z| > {STRUCTURE_LIMIT} and |f| > "
          f"{STRUCTURE_FRACTION_LIMIT}\n")
    print("| set | case | median chi2 | median z | median f | CHI2HIGH or CHI2LOW | STRUCT | any |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in args.sets:
        regime = BENCHMARK_SETS[name]
        model = get_method(args.model, regime.factor)
        bicubic = get_method("bicubic", regime.factor)
        cases = {"model": ("model, right PSF", model, regime, False),
                 "bicubic": ("bicubic", bicubic, regime, False),
                 "passed_off": (f"bicubic passed off as a {regime.target_psf_fwhm:g}\" restoration", bicubic,
                                regime, True),
                 "wide": (f"model, PSF {1 + args.bias:.2f}x too wide", model,
                          replace(regime, psf_bias=args.bias), False),
                 "narrow": (f"model, PSF {1 - args.bias:.2f}x (too narrow)", model,
                            replace(regime, psf_bias=-args.bias), False)}
        for case in args.cases:
            label, restorer, reg, passed_off = cases[case]
            chi2, z, f, snr = header_values(restorer, reg, args.n, args.seed, passed_off=passed_off)
            saved.update({f"{name}/{case}/chi2": chi2, f"{name}/{case}/z": z, f"{name}/{case}/f": f,
                          f"{name}/{case}/snr": snr})
            chi2_flag = (chi2 > CHI2_LIMIT) | (chi2 < CHI2_LOW_LIMIT)
            struct = (np.abs(z) > STRUCTURE_LIMIT) & (np.abs(f) > STRUCTURE_FRACTION_LIMIT)
            print(f"| {name} | {label} ({restorer.name}) | {np.median(chi2):.2f} | {np.nanmedian(z):+.1f} | "
                  f"{np.nanmedian(f):+.3f} | "
                  f"{chi2_flag.mean():.0%} | {struct.mean():.0%} | {(chi2_flag | struct).mean():.0%} |")
            if args.print_z:
                print("|  | |z| values | " + " ".join(f"{v:.1f}" for v in np.sort(np.abs(z))) + " | | | |")
    if args.save:
        np.savez(args.save, seed=args.seed, **saved)
    print(f"\n{time.perf_counter() - t0:.0f} s on {platform.node()} {platform.machine()}, {os.cpu_count()} "
          f"cores, torch {torch.__version__}, {torch.get_num_threads()} threads")


if __name__ == "__main__":
    main()
