"""A sanity check on real galaxy morphology: real images as truths, observed through simulated
PSFs, pixels and noise, restored by the shipped models and by Richardson-Lucy brought to the
same target PSF.

Run: ``python benchmarks/real_galaxies.py [--cosmos PATH] [-n 20]``. The truths are the HST
COSMOS galaxy of ``shared/data/real_galaxies`` (0.03"/px, cropped to 256 pixels) and
statmorph's face-on spiral (its pixel scale taken as 0.06"). Each is observed ``n`` times at
0.2"/px with a Moffat PSF of 0.7-1.3" FWHM and SNR 30-150 (drawn per realisation, seeded).
Two galaxies are a sanity check of real structure, not a benchmark. ``--samples N`` also
restores each realisation with N posterior draws (models that ship a sampler) and reports the
calibrated map's coverage of the galaxy pixels within 2" of the centre (the truths keep their
own HST noise, which counts as error here).
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

import numpy as np
import torch

from galgen.errors import GalgenModelError
from galgen.evaluation import measure_galaxy, restore_pair
from galgen.evaluation.coverage import GALAXY_RADIUS, galaxy_pixels
from galgen.restoration import get_method
from galgen.restoration.registry import shipped_models
from galgen.simulate.real import real_galaxy, real_galaxy_pair, statmorph_spiral


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cosmos", default=str(Path(__file__).parents[1] / ".." / "shared" / "data" /
                                                "real_galaxies" / "cosmos_147246_f814w.fits"))
    parser.add_argument("-n", type=int, default=20)
    parser.add_argument("--samples", type=int, default=0, help="posterior draws for a coverage table")
    args = parser.parse_args()
    torch.set_num_threads(1)
    truths = []
    if Path(args.cosmos).is_file():
        truths.append(("HST COSMOS 147246 (0.03\"/px)", real_galaxy(args.cosmos, 0.03, crop=256)))
    if statmorph_spiral() is not None:
        truths.append(("statmorph spiral (0.06\"/px assumed)", real_galaxy(statmorph_spiral(), 0.06)))
    methods = []
    for name in sorted(shipped_models()):
        try:
            methods.append(get_method(name, 2))
        except GalgenModelError:  # a model of another factor (survey_x4)
            continue
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, 1 thread; {args.n} realisations per galaxy\n")
    print("| galaxy | method | PSNR (dB) | median abs flux err | median flux err | median abs hlr err |")
    print("| --- | --- | --- | --- | --- | --- |")
    coverage_rows = []
    for label, galaxy in truths:
        rows: dict[str, list] = {}
        covered: dict[str, list] = {}
        for i in range(args.n):
            rng = np.random.default_rng([77, i])
            pair = real_galaxy_pair(galaxy, rng, psf_fwhm=float(rng.uniform(0.7, 1.3)),
                                    snr=float(np.exp(rng.uniform(np.log(30), np.log(150)))))
            rl = get_method("richardson_lucy", 2, iterations=8, target_psf_fwhm=0.2)
            for restorer in [*methods, rl]:
                m = measure_galaxy(np.asarray(restore_pair(restorer, pair).data), pair.target, 0.1)
                row = (m["psnr"], abs(m["flux_error"]), abs(m["hlr_error"]), m["flux_error"])
                rows.setdefault(restorer.name, []).append(row)
                if args.samples > 1 and getattr(restorer, "posterior", None) is not None:
                    result = restore_pair(restorer, pair, samples=args.samples)
                    disc = galaxy_pixels(pair.target.shape, GALAXY_RADIUS / 0.1)
                    err = np.abs(np.asarray(result.data) - pair.target)[disc]
                    sigma = np.asarray(result.uncertainty.array)[disc]
                    covered.setdefault(restorer.name, []).append((err <= sigma, err <= 2 * sigma))
        for name, values in rows.items():
            v = np.nanmedian(np.array(values), axis=0)
            print(f"| {label} | {name} | {v[0]:.2f} | {v[1]:.2%} | {v[3]:+.2%} | {v[2]:.2%} |", flush=True)
        for name, hits in covered.items():
            one, two = (np.concatenate([h[k] for h in hits]) for k in (0, 1))
            coverage_rows.append(f"| {label} | {name} | {one.mean():.1%} | {two.mean():.1%} | {one.size} |")
    if coverage_rows:
        print(f"\n| galaxy | model ({args.samples} posterior draws) | 1 sigma coverage | 2 sigma coverage "
              "| galaxy pixels |")
        print("| --- | --- | --- | --- | --- |")
        print("\n".join(coverage_rows))


if __name__ == "__main__":
    main()
