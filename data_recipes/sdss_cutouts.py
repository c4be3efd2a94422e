"""SDSS imaging cutouts in the GalaxyGAN set-up (g, r, i frames; 0.396 arcsec/pixel).

Online: ``python data_recipes/sdss_cutouts.py --ra 150.1 --dec 2.2 --bands gri -o sdss/``
fetches the corrected frames around a position with ``astroquery.sdss`` and cuts stamps.
Offline: ``--frame FILE`` processes frames already on disk (how the tests run it).

Frames are in nanomaggies (``BUNIT = 'nanomaggy'``), sky-subtracted; give ``galgen restore``
the PSF FWHM from the field's psField (median seeing ~1.4").
"""

from __future__ import annotations

import argparse
from pathlib import Path

import astropy.units as u
from astropy.coordinates import SkyCoord

from galgen.io import read_image
from galgen.preprocess import make_cutout

try:
    from data_recipes._common import write_stamp
except ImportError:  # run as a script from data_recipes/
    from _common import write_stamp

PIXEL_SCALE = 0.396  # arcsec
ACKNOWLEDGEMENT = (
    "Funding for the Sloan Digital Sky Survey has been provided by the Alfred P. Sloan Foundation, "
    "the Participating Institutions, NASA, NSF, the US Department of Energy, the Japanese "
    "Monbukagakusho, and the Max Planck Society. SDSS data are public (https://www.sdss.org/collaboration/citing-sdss/)"
)


def fetch_frames(position: SkyCoord, bands: str = "gri"):  # noqa: ANN201 - needs the network
    """Download the SDSS frames covering ``position`` (one HDUList per band)."""
    from astroquery.sdss import SDSS

    matches = SDSS.query_region(position, spectro=False, radius=2 * u.arcsec)
    if matches is None or len(matches) == 0:
        raise SystemExit(f"no SDSS imaging at {position.to_string('hmsdms')}")
    return {b: SDSS.get_images(matches=matches[:1], band=b)[0] for b in bands}


def process_frame(frame, positions: list[SkyCoord], size: int = 64, band: str = "r"):  # noqa: ANN001, ANN201
    """Cut ``size``-pixel stamps from one frame (path or HDUList) at each sky position."""
    image = read_image(frame, hdu=0, pixel_scale=PIXEL_SCALE * u.arcsec)
    if image.unit is None:
        image.unit = u.nmgy  # SDSS frames are calibrated in nanomaggies
    return [make_cutout(image, pos, size) for pos in positions]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ra", type=float, required=True, help="deg")
    parser.add_argument("--dec", type=float, required=True, help="deg")
    parser.add_argument("--bands", default="gri")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frame", action="append", help="frame FITS already on disk (offline)")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args(argv)
    position = SkyCoord(args.ra * u.deg, args.dec * u.deg)
    if args.frame:
        frames = dict(zip(args.bands, args.frame, strict=False))
    else:
        frames = fetch_frames(position, args.bands)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    for band, frame in frames.items():
        (stamp,) = process_frame(frame, [position], args.size, band)
        path = write_stamp(stamp, out / f"sdss_{args.ra:.5f}_{args.dec:+.5f}_{band}.fits", "sdss_cutouts",
                           ACKNOWLEDGEMENT, {"FILTER": band}, overwrite=True)
        print("wrote", path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
