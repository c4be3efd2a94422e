"""What a PSF file on turned axes costs when used as it lies, and what turning it gains.

Each pair of the ``lsst`` set (the zoo's ground PSFs at 0.2"/px: elongated, aberrated) gets its
PSF written turned by 90 degrees with a WCS that says so, as a star cut from another exposure
on other axes comes. ``galgen.restore`` with that file (turned back onto the image's axes
through the two WCSs) is compared with the same PSF used as it lies (what galgen did before
session 27): median PSNR against the truth and how many pairs gained over 1 dB.

Run: ``python benchmarks/psf_orientation.py -n 24 [--held-out]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _report import add_held_out, machine, seed_of
from astropy.io import fits
from astropy.nddata import CCDData
from astropy.wcs import WCS

import galgen
from galgen.evaluation import BENCHMARK_SETS
from galgen.io import simple_tan_wcs
from galgen.metrics import psnr
from galgen.simulate import PairDataset

QUARTER_TURN = np.array([[0.0, -1.0], [1.0, 0.0]])  # the file's pixel offsets to the image's


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=24)
    add_held_out(parser)
    args = parser.parse_args()
    seed, t0 = seed_of(args), time.perf_counter()
    dataset = PairDataset(args.n, seed, BENCHMARK_SETS["lsst"])
    gains, turned_psnr, as_lies_psnr = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "psf.fits"
        for i in range(args.n):
            pair = dataset.pair(i)
            wcs = simple_tan_wcs(pair.observation.shape, 0.2)
            psf_wcs = WCS(naxis=2)
            psf_wcs.wcs.ctype, psf_wcs.wcs.crval = list(wcs.wcs.ctype), wcs.wcs.crval
            psf_wcs.wcs.crpix = [(pair.psf.shape[1] + 1) / 2, (pair.psf.shape[0] + 1) / 2]
            psf_wcs.wcs.cd = wcs.pixel_scale_matrix @ QUARTER_TURN
            fits.writeto(path, np.rot90(pair.psf), psf_wcs.to_header(), overwrite=True)
            observation = CCDData(pair.observation, unit="adu", wcs=wcs)
            common = {"noise_rms": pair.noise_rms, "background": 0.0}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # regime warnings: measured either way
                turned = galgen.restore(observation, psf=path, **common)
                as_lies = galgen.restore(observation, psf=np.rot90(pair.psf), **common)
            turned_psnr.append(psnr(np.asarray(turned.data), pair.target))
            as_lies_psnr.append(psnr(np.asarray(as_lies.data), pair.target))
            gains.append(turned_psnr[-1] - as_lies_psnr[-1])
    gains = np.array(gains)
    print(f"\nlsst set, {args.n} pairs (seed {seed}), PSF file turned by 90 degrees; "
          f"{time.perf_counter() - t0:.0f} s on {machine()}\n")
    print("| PSF file | median PSNR (dB) |")
    print("| --- | --- |")
    print(f"| turned onto the image's axes (now) | {np.median(turned_psnr):.2f} |")
    print(f"| used as it lies (before) | {np.median(as_lies_psnr):.2f} |")
    print(f"\nper pair: median gain {np.median(gains):+.2f} dB, {int(np.sum(gains > 1))} of {args.n} over "
          f"+1 dB, largest {gains.max():+.2f}, smallest {gains.min():+.2f}")


if __name__ == "__main__":
    main()
