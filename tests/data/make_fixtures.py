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


def survey_psf_fixtures() -> None:
    """The PSF products surveys hand out, for the survey notebook and docs: an SDSS psField-style
    PSF image of ``sdss_frame.fits`` (the Moffat it was drawn with, at 0.396"/px), and a DES-like
    stamp (0.263"/px, a double-Gaussian PSF that varies over the exposure) with its PSFEx model."""
    from galgen.psf.psfex import write_psfex

    psf = galsim.Moffat(beta=3.5, fwhm=1.4).drawImage(nx=25, ny=25, scale=0.396).array
    hdr = fits.Header()
    hdr["PIXSCALE"] = (0.396, "[arcsec] pixel scale of this PSF image")
    hdr["COMMENT"] = "psField-style PSF reconstruction of sdss_frame.fits (simulated fixture)"
    fits.PrimaryHDU((psf / psf.sum()).astype(np.float32), hdr).writeto(HERE / "sdss_psf.fits", overwrite=True)

    def des_psf(x: float) -> galsim.GSObject:
        """Core FWHM 0.95" at the exposure's left edge, 1.15" at its right; a 2.5x wider halo."""
        core = 0.95 + 0.2 * x / 2048
        return galsim.Add([galsim.Gaussian(fwhm=core, flux=0.85),
                           galsim.Gaussian(fwhm=2.5 * core, flux=0.15)])

    x_stamp, y_stamp = 1536.0, 1024.0  # the stamp's centre in the exposure (1-based pixels)
    gal = galsim.Add([galsim.Sersic(n=1.0, half_light_radius=1.3, flux=80.0).shear(e1=0.2, e2=-0.25),
                      galsim.RandomKnots(npoints=30, half_light_radius=1.3, flux=20.0,
                                         rng=galsim.BaseDeviate(7))])
    stamp = galsim.Convolve(gal, des_psf(x_stamp)).drawImage(nx=64, ny=64, scale=0.263).array
    stamp = (stamp + np.random.default_rng(8).normal(0, 0.03, stamp.shape)).astype(np.float32)
    hdr = _wcs(stamp.shape, 0.263).to_header()
    hdr["BUNIT"] = "nanomaggy"
    # where the cutout lies on the exposure, as IRAF and galgen's cutouts say it (whole pixels):
    # stamp pixel (1, 1) is exposure pixel (1505, 993), its centre (32.5, 32.5) is (1536.5, 1024.5)
    hdr["LTV1"] = (-(x_stamp - 32.0), "this image's pixel = exposure pixel + LTV")
    hdr["LTV2"] = (-(y_stamp - 32.0), "this image's pixel = exposure pixel + LTV")
    fits.PrimaryHDU(stamp, hdr).writeto(HERE / "des_stamp.fits", overwrite=True)
    # PSFEx model, degree 1 in x (PSFEx pixels of 0.5 image pixels): PSF(x) = B0 + B1 (x - 1024) / 1024
    n, sample = 41, 0.5
    # effective PSFs (the 0.263" pixel's response included, as PSFEx's are), sampled at 0.1315"
    left, right = (galsim.Convolve(des_psf(x), galsim.Pixel(0.263)).drawImage(
        nx=n, ny=n, scale=0.263 * sample, method="no_pixel").array for x in (1024.0, 2048.0))
    basis = np.stack([left, right - left, np.zeros_like(left)])
    write_psfex(HERE / "des_stamp.psf", basis, sample=sample, zero=(1024.0, 1024.0), scale=(1024.0, 1024.0),
                overwrite=True)


if __name__ == "__main__":
    main()
    survey_psf_fixtures()
