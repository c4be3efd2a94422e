"""How often the ``SKY`` flag fires: flat sky (false alarms), galaxies that fill their stamps
(detections, with the share of the flux the automatic sky took), and the benchmark sets.

``GALGENSZ`` (:func:`galgen.preprocess.sky_gradient`) tests whether the pixels a stamp's
automatic sky was measured on brighten toward the centre; ``SKY`` fires above
:data:`galgen.restoration.flags.SKY_Z_LIMIT`. Three measurements, each through
:func:`galgen.restoration.engine.prepare_observation` as ``galgen restore`` runs it:

1. null: 64x64 stamps of white or correlated (Gaussian-smoothed) noise with a random linear sky
   gradient, a small central galaxy and 0-4 neighbours (SNR 20-300);
2. exponential disks (1" Moffat seeing, 0.2"/px, SNR 30-150, random ellipticity) whose
   half-light radius is 1/32 ... 1/6 of the stamp's side, and the share of their flux the sky
   took, with galgen's sky (from the pixels beyond ``OUTER_SKY`` of the stamp's side) and with
   one from every source-free pixel (what galgen did before session 19); then disks 8-12 px off
   the stamp's centre, z measured from the target's peak (galgen) and from the stamp's centre
   (before session 22);
3. validation pairs (seed 9,000,000) of the benchmark sets, given their true noise but an
   automatic sky: how many are flagged and how much of the 15-observed-pixel aperture flux
   the sky took.

Run: ``python benchmarks/sky_flag.py [-n 150] [--disks 30] [--pairs 60]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform

import astropy.units as u
import galsim
import numpy as np
from scipy import ndimage

from galgen.evaluation import BENCHMARK_SETS
from galgen.evaluation.benchmark import VALIDATION_SEED
from galgen.io.fits import read_image
from galgen.preprocess.background import OUTER_SKY, estimate_background, sky_gradient
from galgen.restoration.engine import prepare_observation
from galgen.restoration.flags import SKY_Z_LIMIT
from galgen.simulate import PairDataset

PSF = galsim.Moffat(beta=3.5, fwhm=1.0)


def _z(data: np.ndarray) -> tuple[float, float]:
    """``(GALGENSZ, sky subtracted)`` of a 0.2"/px stamp with a 1" PSF."""
    prepared = prepare_observation(read_image(data, pixel_scale=0.2), 1.0 * u.arcsec)
    return prepared.sky_z, prepared.background


def _disk(rng: np.random.Generator, hlr: float, offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    shape = galsim.Exponential(half_light_radius=hlr).shear(e=rng.uniform(0, 0.5),
                                                            beta=rng.uniform(0, 180) * galsim.degrees)
    image = galsim.Convolve(shape, PSF).drawImage(nx=64, ny=64, scale=0.2, offset=offset).array
    return image / np.sqrt((image**2).sum())  # unit matched-filter SNR at unit noise


def null(n: int, rng: np.random.Generator) -> np.ndarray:
    zs = []
    yy, xx = np.mgrid[:64, :64] - 31.5
    for i in range(n):
        data = rng.normal(0, 1, (64, 64))
        if i % 2:
            data = ndimage.gaussian_filter(data, rng.uniform(0.5, 1.5))
            data /= data.std()
        data += 0.003 * (xx * rng.normal() + yy * rng.normal())
        for _ in range(rng.integers(0, 5)):
            data += rng.uniform(20, 300) * _disk(rng, rng.uniform(0.2, 1.0),
                                                 (rng.uniform(-30, 30), rng.uniform(-30, 30)))
        data += rng.uniform(20, 200) * _disk(rng, rng.uniform(0.2, 0.5))
        zs.append(_z(data)[0])
    return np.array(zs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=150, help="null stamps")
    parser.add_argument("--disks", type=int, default=30, help="disks per size")
    parser.add_argument("--pairs", type=int, default=60, help="validation pairs per benchmark set")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    logging.getLogger("galgen").setLevel(logging.ERROR)  # the SKY warnings of flagged stamps
    rng = np.random.default_rng(args.seed)
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores; "
          f"SKY above z = {SKY_Z_LIMIT}\n")
    zs = null(args.n, rng)
    print(f"null ({args.n} stamps): median z {np.median(zs):.2f}, "
          f"95th percentile {np.percentile(zs, 95):.2f}, "
          f"99th {np.percentile(zs, 99):.2f}, max {zs.max():.2f}; flagged {np.mean(zs > SKY_Z_LIMIT):.1%}\n")
    print("| half-light radius / stamp side | median z | flagged | median share of the flux the sky took: "
          f"sky beyond {OUTER_SKY} of the side (galgen) | every source-free pixel |")
    print("| --- | --- | --- | --- | --- |")
    for denominator in (32, 20, 13, 10, 8, 6):
        z, taken, everywhere = [], [], []
        for _ in range(args.disks):
            disk = _disk(rng, 64 * 0.2 / denominator)
            snr = rng.uniform(30, 150)
            data = snr * disk + rng.normal(0, 1, disk.shape)
            value, sky = _z(data)
            z.append(value)
            taken.append(sky * disk.size / (snr * disk.sum()))
            everywhere.append(estimate_background(data, outer=None).median * disk.size / (snr * disk.sum()))
        print(f"| 1/{denominator} | {np.median(z):.1f} | {np.mean(np.array(z) > SKY_Z_LIMIT):.0%} | "
              f"{100 * np.median(taken):.1f} % | {100 * np.median(everywhere):.1f} % |")
    print("\nOff-centre disks (the target 8-12 px from the stamp's centre, in a random direction):\n")
    print("| half-light radius / stamp side | median z, from the target (galgen) | flagged | "
          "median z, from the stamp's centre | flagged |")
    print("| --- | --- | --- | --- | --- |")
    for denominator in (10, 8, 6):
        z, z_centre = [], []
        for _ in range(args.disks):
            r, phi = rng.uniform(8, 12), rng.uniform(0, 2 * np.pi)
            disk = _disk(rng, 64 * 0.2 / denominator, (r * np.cos(phi), r * np.sin(phi)))
            data = rng.uniform(30, 150) * disk + rng.normal(0, 1, disk.shape)
            z.append(_z(data)[0])
            bkg = estimate_background(data)
            z_centre.append(sky_gradient(data - bkg.median, ~bkg.sources, float(bkg.rms.flat[0])))
        z, z_centre = np.array(z), np.array(z_centre)
        print(f"| 1/{denominator} | {np.median(z):.1f} | {np.mean(z > SKY_Z_LIMIT):.0%} | "
              f"{np.median(z_centre):.1f} | {np.mean(z_centre > SKY_Z_LIMIT):.0%} |")
    print("\n| set | median z | 99th percentile | flagged | aperture flux the sky took, flagged (median) |")
    print("| --- | --- | --- | --- | --- |")
    for name in ("structured", "merger", "cosmos", "sdss"):
        regime = BENCHMARK_SETS[name]
        dataset = PairDataset(args.pairs, VALIDATION_SEED, regime)
        z, taken = [], []
        for i in range(args.pairs):
            p = dataset.pair(i)
            image = read_image(p.observation, pixel_scale=regime.in_pixel_scale)
            prepared = prepare_observation(image, p.psf_fwhm * u.arcsec, psf=p.psf, noise_rms=p.noise_rms)
            h, w = p.observation.shape
            yy, xx = np.mgrid[:h, :w]
            aperture = np.hypot(xx - (w - 1) / 2, yy - (h - 1) / 2) <= 15
            z.append(prepared.sky_z)
            taken.append(prepared.background * aperture.sum() / p.observation[aperture].sum())
        z, taken = np.array(z), np.array(taken)
        flagged = z > SKY_Z_LIMIT
        share = f"{100 * np.median(taken[flagged]):.1f} %" if flagged.any() else "-"
        print(f"| {name} | {np.nanmedian(z):.2f} | {np.nanpercentile(z, 99):.2f} | {flagged.sum()} of "
              f"{args.pairs} | {share} |")


if __name__ == "__main__":
    main()
