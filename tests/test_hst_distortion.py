"""HST ``flt``/``flc`` chips: a WCS with lookup-table distortions (``CPDIS``/``DP`` records,
``D2IMDIS``) and an alternate WCS (``CRPIX1O``, ...) is read, and outputs carry a WCS any reader
can build."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

import galgen
from galgen.batch import BatchOptions, run_catalog
from galgen.io import read_image, read_stamps
from galgen.io.wcs import celestial_wcs
from galgen.restoration import write_restored

SHAPE = (64, 64)


def _sip_header() -> fits.Header:
    h = fits.Header()
    h["CTYPE1"], h["CTYPE2"] = "RA---TAN-SIP", "DEC--TAN-SIP"
    h["CRVAL1"], h["CRVAL2"], h["CRPIX1"], h["CRPIX2"] = 150.0, 2.0, 20.0, 40.0
    h["CD1_1"], h["CD1_2"], h["CD2_1"], h["CD2_2"] = -1.1e-5, 3e-6, 3e-6, 1.1e-5  # 0.041"/px, turned
    h["A_ORDER"], h["B_ORDER"], h["A_2_0"], h["A_1_1"], h["B_0_2"] = 2, 2, 1e-5, -1e-5, 2e-5
    return h


@pytest.fixture
def flc(tmp_path):
    """A chip as MAST writes them: SCI with SIP and NPOL lookup-table distortions (the tables in
    WCSDVARR extensions) and the pipeline's original WCS as alternate 'O'; a galaxy at its centre."""
    h = _sip_header()
    for axis in (1, 2):
        h.append((f"CPERR{axis}", 0.05))
        h.append((f"CPDIS{axis}", "Lookup"))
        for record in (f"EXTVER: {axis}", "NAXES: 2", "AXIS.1: 1", "AXIS.2: 2"):
            h.append((f"DP{axis}", record))
    h["WCSNAMEO"], h["CTYPE1O"], h["CRPIX1O"], h["CD1_1O"] = "OPUS", "RA---TAN", 20.0, -1.1e-5
    h["EXTNAME"], h["EXTVER"] = "SCI", 1
    yy, xx = np.indices(SHAPE)
    data = np.random.default_rng(0).normal(0, 1, SHAPE) + 50 * np.exp(-((xx - 32) ** 2 + (yy - 32) ** 2) / 8)
    tables = [fits.ImageHDU(np.full((16, 16), 0.1 * v, np.float32),
                            fits.Header({"EXTNAME": "WCSDVARR", "EXTVER": v, "CRPIX1": 0, "CRPIX2": 0,
                                         "CRVAL1": 0, "CRVAL2": 0, "CDELT1": 4, "CDELT2": 4}))
              for v in (1, 2)]
    path = tmp_path / "j_flc.fits"
    fits.HDUList([fits.PrimaryHDU(header=fits.Header({"TELESCOP": "HST"})),
                  fits.ImageHDU(data.astype(np.float32), h), *tables]).writeto(path)
    return path


def test_a_chip_with_lookup_table_distortions_has_its_wcs(flc):
    header = fits.getheader(flc, 1)
    with pytest.raises(ValueError, match="HDUList is required for Lookup table distortion"):
        WCS(header)  # what galgen met before: "no celestial WCS, so the pixel scale is unknown"
    wcs = celestial_wcs(header)
    assert wcs is not None and wcs.sip is not None
    image = read_image(flc, hdu="SCI")
    # 0.0411"/px from the CD matrix (sqrt |det|: 1.1e-5 and 3e-6 deg)
    assert image.pixel_scale == pytest.approx(3600 * np.sqrt(1.1e-5**2 + 3e-6**2), rel=1e-6)
    # the lookup tables (0.1 and 0.2 pixels here) are what is left out; CD and SIP are exact
    full = WCS(header, fobj=fits.open(flc))
    sip = WCS(_sip_header())
    for x, y in [(0, 0), (32, 32), (63, 5)]:
        assert image.wcs.pixel_to_world(x, y).separation(sip.pixel_to_world(x, y)) < 0.01 * u.mas
        assert image.wcs.pixel_to_world(x, y).separation(full.pixel_to_world(x, y)) < 0.3 * 0.0411 * u.arcsec


def test_outputs_carry_a_wcs_without_the_input_s_tables_or_alternates(flc, tmp_path):
    result = galgen.restore(flc, 0.1 * u.arcsec, hdu="SCI", method="bicubic")
    sip = WCS(_sip_header())
    for x, y in [(0, 0), (32, 32), (63, 5)]:  # input pixel centre x sits at 2x + 0.5 at x2
        assert result.wcs.pixel_to_world(2 * x + 0.5, 2 * y + 0.5).separation(sip.pixel_to_world(x, y)) \
            < 0.01 * u.mas
    for path, write in ((tmp_path / "galgen.fits", lambda p: write_restored(result, p)),
                        (tmp_path / "ccddata.fits", lambda p: result.write(p))):
        write(path)
        header = fits.getheader(path)
        stale = [k for k in header if k.startswith(("CPDIS", "DP", "CPERR")) or k.endswith("O") and
                 k[:-1] in ("WCSNAME", "CTYPE1", "CRPIX1", "CD1_1")]
        assert stale == [], path.name
        written = WCS(header)  # astropy builds it: no table is referred to
        assert written.sip is not None
        assert written.pixel_to_world(0.5, 0.5).separation(sip.pixel_to_world(0, 0)) < 0.01 * u.mas
    history = "".join(str(h) for h in fits.getheader(tmp_path / "galgen.fits")["HISTORY"])
    assert "distortion tables = not carried" in history


def test_catalog_runs_cut_stamps_from_such_a_chip(flc, tmp_path):
    # a catalog run opens the chip as a memory-mapped mosaic: it needs the WCS for the sky positions
    sky = read_image(flc, hdu="SCI").wcs.pixel_to_world(32.0, 32.0)
    Table({"id": ["g"], "ra": [sky.ra.deg], "dec": [sky.dec.deg]}).write(tmp_path / "cat.ecsv")
    table = run_catalog(tmp_path / "cat.ecsv", [flc], BatchOptions(psf_fwhm=0.1 * u.arcsec, method="bicubic"),
                        tmp_path / "stacks", hdu="SCI", size=32, progress=False)
    assert list(table["status"]) == ["ok"], table["error"]
    stamp = np.nan_to_num(read_stamps(table["output"][0], 0).data)
    yy, xx = np.indices(stamp.shape)
    light = np.clip(stamp, 0, None) * ((xx - 31.5) ** 2 + (yy - 31.5) ** 2 < 12**2)
    centroid = np.array([(light * xx).sum(), (light * yy).sum()]) / light.sum()
    assert np.allclose(centroid, 31.5, atol=1.0)  # the galaxy at the stamp's centre (x2 pixels)
