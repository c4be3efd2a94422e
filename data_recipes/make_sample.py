"""Regenerate galgen's bundled sample observation (``galgen/data/sample_*.fits``).

The sample is one galaxy from galgen's own simulator (COSMOS example catalog,
default regime), observed with a 1.0 arcsec Moffat PSF at SNR 60, with its
noise-free truth at 0.1 arcsec/pixel. Run from the repository root:

    python data_recipes/make_sample.py
"""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits

from galgen.io import add_provenance, simple_tan_wcs, write_fits
from galgen.simulate import DEFAULT_REGIME, random_galaxy, simulate_pair

SEED = 20261125
OUT = Path(__file__).resolve().parents[1] / "galgen" / "data"


def main() -> None:
    rng = np.random.default_rng(SEED)
    while True:  # the first galaxy with star-forming clumps and a resolvable size
        galaxy = random_galaxy(rng)
        if galaxy[1].get("knot_fraction", 0) > 0.15 and galaxy[1]["hlr"] > 0.5:
            break
    pair = simulate_pair(rng, galaxy=galaxy, psf_fwhm=1.0, snr=60.0, flux=2.0e4)
    regime = DEFAULT_REGIME
    params = {"seed": SEED, "recipe": "data_recipes/make_sample.py", **galaxy[1]}
    for name, data, scale, extra in (
        ("sample_observed.fits", pair.observation, regime.in_pixel_scale, {"PSF": pair.psf}),
        ("sample_truth.fits", pair.target, regime.out_pixel_scale, {}),
    ):
        hdr = fits.Header()
        hdr["OBJECT"] = "galgen sample galaxy (simulated)"
        if name == "sample_truth.fits":  # noise-free, at the model's target PSF
            hdr["PSFFWHM"] = (regime.target_psf_fwhm, "[arcsec] target Gaussian PSF (noise-free truth)")
            hdr["OBSPSF"] = (pair.psf_fwhm, "[arcsec] PSF FWHM of its observation")
        else:
            hdr["PSFFWHM"] = (pair.psf_fwhm, "[arcsec] observing PSF FWHM (Moffat beta=3.5)")
            hdr["NOISERMS"] = (pair.noise_rms, "[adu] background noise, 1 sigma")
        hdr["SNR"] = (pair.snr, "matched-filter SNR")
        hdr["FLUX"] = (pair.flux, "[adu] total flux of the galaxy")
        add_provenance(hdr, "simulate", params)
        write_fits(OUT / name, data, header=hdr, wcs=simple_tan_wcs(data.shape, scale),
                   unit=u.adu, extensions=extra, overwrite=True)
        print("wrote", OUT / name)


if __name__ == "__main__":
    main()
