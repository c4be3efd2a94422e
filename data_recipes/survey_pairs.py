"""Training pairs from two surveys over the same sky: a coarse, blurred one and a sharp one.

The sharp image is reprojected (flux-conserving, ``reproject.reproject_exact``) onto the
coarse grid upsampled by ``factor`` and convolved with a Gaussian to reach the target PSF;
matching stamps are then cut from both. Example (offline files):

    python data_recipes/survey_pairs.py --low ls_r.fits --high hst_f814w.fits \\
        --high-psf 0.1 --target-psf 0.2 --factor 2 -o pairs/

Fluxes: both images must be in the same flux unit per pixel (convert magnitudes' zero points
first); surface brightness is conserved by reprojection, so flux per pixel scales with area.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from reproject import reproject_exact

from galgen.errors import GalgenValueError
from galgen.io import Image, read_image, resample_wcs
from galgen.psf import convolve_psf, gaussian_psf

try:
    from data_recipes._common import write_stamp
except ImportError:
    from _common import write_stamp

ACKNOWLEDGEMENT = "Pairs built by galgen's survey_pairs recipe; cite and acknowledge both input surveys"


def match_high_to_low(low: Image, high: Image, factor: int, high_psf: float, target_psf: float) -> Image:
    """The sharp image on the coarse grid upsampled by ``factor``, PSF-matched to ``target_psf``."""
    if low.wcs is None or high.wcs is None:
        raise GalgenValueError("both images need a celestial WCS")
    if target_psf < high_psf:
        raise GalgenValueError(f"target PSF {target_psf}\" is sharper than the high-res PSF {high_psf}\"")
    grid = resample_wcs(low.wcs, factor)
    shape = (low.shape[0] * factor, low.shape[1] * factor)
    sb, footprint = reproject_exact((high.data / high.pixel_scale**2, high.wcs), grid, shape_out=shape)
    scale = low.pixel_scale / factor
    data = np.nan_to_num(sb) * scale**2  # back to flux per (new) pixel
    kernel_fwhm = np.sqrt(max(target_psf**2 - high_psf**2, 0.0)) / scale
    if kernel_fwhm > 0.5:
        data = convolve_psf(data, gaussian_psf(kernel_fwhm))
    return Image(data=data, pixel_scale=scale, wcs=grid, unit=high.unit, mask=footprint < 0.99,
                 header=high.header.copy(), source=f"{high.source} on {low.source} x{factor}")


def cut_pairs(low: Image, high_matched: Image, factor: int, size: int = 64) -> list[tuple[Image, Image]]:
    """Non-overlapping ``size``-pixel stamps of ``low`` with their ``factor*size`` counterparts."""
    from galgen.preprocess import make_cutout

    pairs = []
    for y in range(size // 2, low.shape[0] - size // 2 + 1, size):
        for x in range(size // 2, low.shape[1] - size // 2 + 1, size):
            lo = make_cutout(low, (x - 0.5, y - 0.5), size)
            hi = make_cutout(high_matched, (factor * x - 0.5, factor * y - 0.5), factor * size)
            if not hi.mask.any():
                pairs.append((lo, hi))
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--low", required=True)
    parser.add_argument("--high", required=True)
    parser.add_argument("--high-psf", type=float, required=True, help="arcsec")
    parser.add_argument("--target-psf", type=float, default=0.2, help="arcsec")
    parser.add_argument("--factor", type=int, default=2)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args(argv)
    low, high = read_image(args.low), read_image(args.high)
    matched = match_high_to_low(low, high, args.factor, args.high_psf, args.target_psf)
    out = Path(args.output)
    (out / "observed").mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    pairs = cut_pairs(low, matched, args.factor, args.size)
    for i, (lo, hi) in enumerate(pairs):
        write_stamp(lo, out / "observed" / f"{i:05d}.fits", "survey_pairs", ACKNOWLEDGEMENT, overwrite=True)
        write_stamp(hi, out / "truth" / f"{i:05d}.fits", "survey_pairs", ACKNOWLEDGEMENT,
                    {"PSFFWHM": args.target_psf}, overwrite=True)
    print(f"wrote {len(pairs)} pairs to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
