"""Catalogs as survey pipelines and archives write them: SExtractor FITS_LDAC and ASCII_HEAD,
VizieR VOTables, LSST tables in radians, sexagesimal text, CSV; ids that cannot name a file."""

from __future__ import annotations

import gzip

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table

from galgen.batch import BatchOptions, catalog_items, run_batch
from galgen.batch.catalog import plan_catalog
from galgen.batch.inputs import catalog_keys, read_catalog
from galgen.errors import GalgenFileError, GalgenValueError
from galgen.io import simple_tan_wcs, write_fits

RA = np.array([150.1, 150.1005, 150.0995])
DEC = np.array([2.2, 2.2004, -0.0004])


def _sextractor_ascii(path):
    lines = ["#   1 NUMBER                 Running object number",
             "#   2 ALPHAWIN_J2000         Windowed right ascension (J2000)                 [deg]",
             "#   3 DELTAWIN_J2000         windowed declination (J2000)                     [deg]",
             "#   4 FLUX_AUTO              Flux within a Kron-like elliptical aperture      [count]"]
    lines += [f"{i + 1:10d} {RA[i]:11.7f} {DEC[i]:+11.7f} {100.0 * (i + 1):12.4f}" for i in range(3)]
    path.write_text("\n".join(lines) + "\n")


def _ldac(path):
    """SExtractor's FITS_LDAC: the image header as a one-row table first, the objects second."""
    head = fits.BinTableHDU.from_columns(
        [fits.Column(name="Field Header Card", format="1680A", array=np.array(["SIMPLE  =   T"]))],
        name="LDAC_IMHEAD")
    objects = fits.BinTableHDU(Table({"NUMBER": np.arange(1, 4, dtype=np.int32),
                                      "ALPHA_J2000": RA * u.deg, "DELTA_J2000": DEC * u.deg}),
                               name="LDAC_OBJECTS")
    fits.HDUList([fits.PrimaryHDU(), head, objects]).writeto(path)


def test_survey_catalog_formats_give_the_same_positions_and_ids(tmp_path):
    """Each format reads to the same degrees (1e-9 deg) and names its id column."""
    _sextractor_ascii(tmp_path / "se.cat")
    _ldac(tmp_path / "ldac.fits")
    with open(tmp_path / "ldac.fits", "rb") as raw, gzip.open(tmp_path / "ldac.fits.gz", "wb") as packed:
        packed.write(raw.read())
    Table({"RAJ2000": RA * u.deg, "DEJ2000": DEC * u.deg, "Name": ["a", "b", "c"]}).write(
        tmp_path / "viz.xml", format="votable")
    Table({"objectId": np.arange(3, dtype=np.int64) + 10**17, "coord_ra": np.deg2rad(RA) * u.rad,
           "coord_dec": np.deg2rad(DEC) * u.rad}).write(tmp_path / "lsst.fits")
    sky = SkyCoord(RA, DEC, unit="deg")
    Table({"id": [1, 2, 3], "ra": sky.ra.to_string(u.hour, sep=":", precision=4),
           "dec": sky.dec.to_string(sep=":", precision=4, alwayssign=True)}).write(tmp_path / "sexa.ecsv")
    Table({"ra": sky.ra.to_string(u.hour, precision=4), "dec": sky.dec.to_string(precision=4)}).write(
        tmp_path / "hms.ecsv")
    Table({"ra": [f"{r:.7f}" for r in RA], "dec": [f"{d:.7f}" for d in DEC]}).write(tmp_path / "text.csv")
    expected = {"se.cat": ("ALPHAWIN_J2000", "NUMBER"), "ldac.fits": ("ALPHA_J2000", "NUMBER"),
                "ldac.fits.gz": ("ALPHA_J2000", "NUMBER"),
                "viz.xml": ("RAJ2000", "Name"), "lsst.fits": ("coord_ra", "objectId"),
                "sexa.ecsv": ("ra", "id"), "hms.ecsv": ("ra", None), "text.csv": ("ra", None)}
    for name, (ra_name, id_name) in expected.items():
        table, cols = read_catalog(tmp_path / name)
        assert cols["ra"] == ra_name, name
        assert cols.get("id") == id_name, name
        np.testing.assert_allclose(table[cols["ra"]], RA, atol=1e-5 / 3600, err_msg=name)
        np.testing.assert_allclose(table[cols["dec"]], DEC, atol=1e-4 / 3600, err_msg=name)


def test_catalog_errors_name_what_is_wrong(tmp_path):
    fits.HDUList([fits.PrimaryHDU(np.zeros((4, 4)))]).writeto(tmp_path / "image.fits")
    with pytest.raises(GalgenFileError, match="no table HDU"):
        read_catalog(tmp_path / "image.fits")
    Table({"x": [1.0], "y": [2.0]}).write(tmp_path / "xy.ecsv")
    with pytest.raises(GalgenValueError, match="ALPHAWIN_J2000.*it has \\['x', 'y'\\]"):
        read_catalog(tmp_path / "xy.ecsv")
    Table({"ra": ["north"], "dec": ["+02:00:00"]}).write(tmp_path / "words.ecsv")
    with pytest.raises(GalgenValueError, match="'ra' is not an angle"):
        read_catalog(tmp_path / "words.ecsv")
    (tmp_path / "notes.cat").write_text("observed on a cloudy night\n")  # read as text: its columns named
    with pytest.raises(GalgenValueError, match="it has \\['observed', 'on', 'a', 'cloudy', 'night'\\]"):
        read_catalog(tmp_path / "notes.cat")
    (tmp_path / "junk.fits").write_bytes(b"SIMPLE  =" + bytes(range(256)) * 20)
    with pytest.raises(GalgenFileError, match="not a table astropy can read") as info:
        read_catalog(tmp_path / "junk.fits")
    assert "\n" not in str(info.value)


def test_ids_become_file_names_and_clashes_are_refused():
    table = Table({"id": ["NGC 1300", "a/b", "J100024.0+021200", "..x"], "ra": RA[[0, 1, 2, 0]],
                   "dec": DEC[[0, 1, 2, 0]]})
    ids, keys = catalog_keys(*read_catalog(table))
    assert ids == ["NGC 1300", "a/b", "J100024.0+021200", "..x"]
    assert keys == ["cutout_NGC_1300", "cutout_a_b", "cutout_J100024.0+021200", "cutout_..x"]
    with pytest.raises(GalgenValueError, match="same output name \\(cutout_a_b\\)"):
        catalog_keys(*read_catalog(Table({"id": ["a/b", "a b"], "ra": RA[:2], "dec": DEC[:2]})))
    with pytest.raises(GalgenValueError, match="repeated values \\(7, \\.\\.\\.\\)"):
        catalog_keys(*read_catalog(Table({"id": [7, 7], "ra": RA[:2], "dec": DEC[:2]})))
    # a Legacy Surveys sweep: objid is unique per brick only; with the brick's name it is unique
    sweep = Table({"brickname": ["1502p022", "1502p022", "1503p022"], "objid": [7, 8, 7], "ra": RA,
                   "dec": DEC})
    assert catalog_keys(*read_catalog(sweep))[0] == ["1502p022_7", "1502p022_8", "1503p022_7"]
    numbers = Table({"NUMBER": [1, 1, 2], "ra": RA, "dec": DEC})  # two SExtractor runs stacked
    assert catalog_keys(*read_catalog(numbers))[0] == ["000000", "000001", "000002"]


def test_a_sextractor_catalog_with_names_drives_a_per_stamp_and_a_stacked_run(tmp_path):
    """FITS_LDAC positions and ids with a space and a slash: one file per galaxy, named safely,
    the id kept as given in the manifest; the stacked run plans the same keys."""
    wcs = simple_tan_wcs((120, 120), 0.2)
    rng = np.random.default_rng(3)
    write_fits(tmp_path / "field.fits", rng.normal(0, 1, (120, 120)).astype(np.float32), wcs=wcs)
    sky = wcs.pixel_to_world([30.0, 60.0, 90.0], [40.0, 60.0, 80.0])
    head = fits.BinTableHDU.from_columns(
        [fits.Column(name="Field Header Card", format="1680A", array=np.array(["SIMPLE  =   T"]))],
        name="LDAC_IMHEAD")
    objects = fits.BinTableHDU(Table({"NAME": ["NGC 1300", "a/b", "c"], "ALPHA_J2000": sky.ra.deg,
                                      "DELTA_J2000": sky.dec.deg}), name="LDAC_OBJECTS")
    fits.HDUList([fits.PrimaryHDU(), head, objects]).writeto(tmp_path / "field.ldac")
    items = catalog_items(tmp_path / "field.ldac", [tmp_path / "field.fits"], size=24)
    assert [i.key for i in items] == ["cutout_NGC_1300", "cutout_a_b", "cutout_c"]
    table = run_batch(items, BatchOptions(psf_fwhm=0.8 * u.arcsec, method="bicubic", background=0.0,
                                          check_psf=False), tmp_path / "out", progress=False)
    assert list(table["status"]) == ["ok", "ok", "ok"]
    assert sorted(p.name for p in (tmp_path / "out").glob("cutout_*.fits")) == [
        "cutout_NGC_1300.fits", "cutout_a_b.fits", "cutout_c.fits"]
    chunks, off = plan_catalog(tmp_path / "field.ldac", [tmp_path / "field.fits"], size=24)
    assert not off
    assert [(r[0], r[1]) for r in chunks[0].rows] == [("cutout_NGC_1300", "NGC 1300"), ("cutout_a_b", "a/b"),
                                                        ("cutout_c", "c")]
