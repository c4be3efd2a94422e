"""DESI Legacy Imaging Surveys cutouts (g, r, z; 0.262 arcsec/pixel) from the cutout service.

Online: ``python data_recipes/legacy_survey.py --ra 150.1 --dec 2.2 -o ls/`` downloads a
multi-band FITS cutout (layer ``ls-dr10``) and splits it into one stamp per band.
Offline: ``--cube FILE`` processes a cutout already on disk (how the tests run it).
The cube's planes are bands (header ``BANDS`` or g, r, z); the unit is nanomaggies.
"""

from __future__ import annotations

import argparse
import urllib.request
from pathlib import Path

import astropy.units as u
from astropy.io import fits

from galgen.io import read_image

try:
    from data_recipes._common import write_stamp
except ImportError:
    from _common import write_stamp

PIXEL_SCALE = 0.262  # arcsec
SERVICE = "https://www.legacysurvey.org/viewer/fits-cutout?ra={ra}&dec={dec}&layer={layer}&pixscale={scale}&size={size}&bands={bands}"
ACKNOWLEDGEMENT = (
    "The Legacy Surveys consist of three projects: DECaLS, BASS and MzLS; see "
    "https://www.legacysurvey.org/acknowledgment/ for the full acknowledgement text and licence (public data)"
)


def fetch_cube(ra: float, dec: float, size: int = 64, bands: str = "grz", layer: str = "ls-dr10",
               path: str | Path = "cutout.fits") -> Path:  # pragma: no cover - network
    """Download a cutout cube with the Legacy Survey cutout service."""
    url = SERVICE.format(ra=ra, dec=dec, layer=layer, scale=PIXEL_SCALE, size=size, bands=bands)
    urllib.request.urlretrieve(url, path)  # noqa: S310 - fixed https service
    return Path(path)


def split_cube(cube: str | Path, bands: str | None = None) -> dict:
    """One :class:`galgen.io.Image` per band plane, celestial WCS kept, in nanomaggies."""
    header = fits.getheader(cube)
    names = (bands or header.get("BANDS", "grz")).replace(",", "")
    nplanes = header.get("NAXIS3", 1)
    out = {}
    for i in range(nplanes):
        image = read_image(cube, plane=i)
        image.unit = image.unit or u.nmgy
        out[names[i] if i < len(names) else str(i)] = image
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ra", type=float, required=True)
    parser.add_argument("--dec", type=float, required=True)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--cube", help="cutout FITS already on disk (offline)")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args(argv)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    cube = args.cube or fetch_cube(args.ra, args.dec, args.size, path=out / "cube.fits")
    for band, image in split_cube(cube).items():
        path = write_stamp(image, out / f"ls_{args.ra:.5f}_{args.dec:+.5f}_{band}.fits", "legacy_survey",
                           ACKNOWLEDGEMENT, {"FILTER": band}, overwrite=True)
        print("wrote", path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
