"""HST COSMOS galaxies (F814W, 0.03 arcsec/pixel) as high-resolution truths.

Online: ``galsim_download_cosmos -s 25.2`` (GalSim's own downloader, ~4 GB) fetches the real
galaxy images; then ``python data_recipes/hst_cosmos.py --dir <download dir> -n 100 -o cosmos/``
draws each real galaxy (``galsim.COSMOSCatalog``) at the target scale.
Offline (how the tests run it): the bundled example catalog, parametric fits only
(``--example``), since its pixel images are not included.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import astropy.units as u
import galsim
import numpy as np

from galgen.io import Image, simple_tan_wcs

try:
    from data_recipes._common import write_stamp
except ImportError:
    from _common import write_stamp

ACKNOWLEDGEMENT = (
    "Based on observations with the NASA/ESA Hubble Space Telescope (COSMOS, Scoville et al. 2007; "
    "Koekemoer et al. 2007), as packaged by GalSim (Rowe et al. 2015; Mandelbaum et al. 2012), BSD licence"
)


def draw_truths(catalog: galsim.COSMOSCatalog, n: int, scale: float = 0.1, size: int = 128,
                target_psf_fwhm: float = 0.2, gal_type: str = "real", seed: int = 0) -> list[Image]:
    """Draw ``n`` catalog galaxies, convolved with a Gaussian target PSF, at ``scale`` arcsec/px.

    ``gal_type="real"`` needs the downloaded images; ``"parametric"`` uses the fits.
    """
    rng = galsim.BaseDeviate(seed)
    psf = galsim.Gaussian(fwhm=target_psf_fwhm)
    out = []
    for i in range(min(n, catalog.nobjects)):
        gal = catalog.makeGalaxy(i, gal_type=gal_type, chromatic=False, rng=rng)
        data = galsim.Convolve(gal, psf).drawImage(nx=size, ny=size, scale=scale).array
        out.append(Image(data=np.asarray(data, float), pixel_scale=scale,
                         wcs=simple_tan_wcs(data.shape, scale), unit=u.electron / u.s,
                         source=f"COSMOS index {i}"))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", help="directory of galsim_download_cosmos (real images)")
    parser.add_argument("--example", action="store_true", help="bundled example catalog, parametric")
    parser.add_argument("-n", type=int, default=10)
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args(argv)
    if args.example:
        from galgen.simulate import cosmos_catalog

        catalog, gal_type = cosmos_catalog(), "parametric"
    else:
        catalog = galsim.COSMOSCatalog(dir=args.dir)
        gal_type = "real"
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(draw_truths(catalog, args.n, gal_type=gal_type)):
        write_stamp(image, out / f"cosmos_{i:05d}.fits", "hst_cosmos", ACKNOWLEDGEMENT,
                    {"GALTYPE": gal_type}, overwrite=True)
    print(f"wrote {min(args.n, catalog.nobjects)} stamps to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
