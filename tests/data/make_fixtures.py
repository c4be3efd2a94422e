"""Regenerate the small FITS fixtures of the data-recipe tests (run from the repo root).

They mimic the real products' layout (header keywords, units, WCS) with GalSim galaxies.
"""

from __future__ import annotations

from pathlib import Path

import galsim
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

HERE = Path(__file__).parent
RA, DEC = 150.1, 2.2


def _wcs(shape: tuple[int, ...], scale: float, naxis: int = 2) -> WCS:
    w = WCS(naxis=naxis)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"] + (["BAND"] if naxis == 3 else [])
    w.wcs.crval = [RA, DEC] + ([0.0] if naxis == 3 else [])
    w.wcs.crpix = [(shape[-1] + 1) / 2, (shape[-2] + 1) / 2] + ([1.0] if naxis == 3 else [])
    w.wcs.cdelt = [-scale / 3600, scale / 3600] + ([1.0] if naxis == 3 else [])
    return w


def galaxy(n: int, scale: float, psf_fwhm: float, flux: float, noise: float, seed: int) -> np.ndarray:
    gal = galsim.Sersic(n=1.5, half_light_radius=1.0, flux=flux).shear(e1=0.3, e2=0.1)
    psf = galsim.Moffat(beta=3.5, fwhm=psf_fwhm)
    img = galsim.Convolve(gal, psf).drawImage(nx=n, ny=n, scale=scale).array
    return (img + np.random.default_rng(seed).normal(0, noise, img.shape)).astype(np.float32)


def main() -> None:
    frame = galaxy(128, 0.396, 1.4, 50.0, 0.05, 1)
    hdr = _wcs(frame.shape, 0.396).to_header()
    hdr["BUNIT"] = "nanomaggy"
    hdr["FILTER"] = "r"
    hdr["TELESCOP"] = "SDSS 2.5-M"
    fits.PrimaryHDU(frame, hdr).writeto(HERE / "sdss_frame.fits", overwrite=True)
    cube = np.stack([galaxy(48, 0.262, 1.2, f, 0.02, s) for f, s in ((10, 2), (20, 3), (30, 4))])
    hdr = _wcs(cube.shape, 0.262, naxis=3).to_header()
    hdr["BANDS"] = "grz"
    hdr["BUNIT"] = "nanomaggy"
    fits.PrimaryHDU(cube, hdr).writeto(HERE / "ls_cube.fits", overwrite=True)
    low = galaxy(64, 0.262, 1.1, 100.0, 0.02, 5)
    fits.PrimaryHDU(low, _wcs(low.shape, 0.262).to_header()).writeto(HERE / "pair_low.fits", overwrite=True)
    high = galaxy(280, 0.06, 0.1, 100.0, 0.0005, 6)
    fits.PrimaryHDU(high, _wcs(high.shape, 0.06).to_header()).writeto(HERE / "pair_high.fits", overwrite=True)


if __name__ == "__main__":
    main()
