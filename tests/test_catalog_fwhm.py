"""Each galaxy's own PSF FWHM from a catalog column (the Legacy Surveys' psfsize_r): stacked and
per-stamp catalog runs and the command line; a row without one falls back on the run's PSF or
fails alone."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.table import MaskedColumn, Table

from galgen.batch import BatchOptions, catalog_items, run_batch, run_catalog
from galgen.batch.inputs import catalog_fwhm
from galgen.cli import main
from galgen.errors import GalgenPSFError, GalgenValueError
from galgen.io import read_image, read_stamps, simple_tan_wcs, write_fits

SCALE = 0.262


@pytest.fixture
def field(tmp_path):
    rng = np.random.default_rng(0)
    wcs = simple_tan_wcs((60, 200), SCALE)
    data = rng.normal(0, 1, (60, 200))
    yy, xx = np.indices(data.shape)
    for x in (30, 100, 170):
        data += 30 * np.exp(-((xx - x) ** 2 + (yy - 30) ** 2) / 8)
    write_fits(tmp_path / "brick.fits", data, wcs=wcs)
    sky = wcs.pixel_to_world([30.0, 100.0, 170.0], [30.0, 30.0, 30.0])
    size = MaskedColumn([0.9, 1.4, 0.0], mask=[False, False, True], unit=u.arcsec)
    Table({"objid": ["a", "b", "c"], "ra": sky.ra.deg, "dec": sky.dec.deg, "psfsize_r": size}).write(
        tmp_path / "tractor.fits")
    return tmp_path


def test_catalog_fwhm_reads_units_and_leaves_missing_rows_nan():
    table = Table({"PSF_FWHM": [1.2, -1.0, np.nan], "size_pix": [3.0, 4.0, 5.0] * u.pix,
                   "seeing": [700.0, 800.0, 900.0] * u.mas})
    np.testing.assert_allclose(catalog_fwhm(table, "psf_fwhm"), [1.2, np.nan, np.nan])
    np.testing.assert_allclose(catalog_fwhm(table, "seeing"), [0.7, 0.8, 0.9])
    with pytest.raises(GalgenValueError, match="not a PSF FWHM in arcsec"):
        catalog_fwhm(table, "size_pix")
    with pytest.raises(GalgenValueError, match="no column 'psfsize_g'"):
        catalog_fwhm(table, "psfsize_g")


def test_each_galaxy_is_restored_with_its_own_psf_fwhm(field):
    options = BatchOptions(method="bicubic", background=0.0, psf_fwhm_column="psfsize_r")
    table = run_catalog(field / "tractor.fits", [field / "brick.fits"], options, field / "out", size=40,
                        progress=False)
    assert list(table["status"]) == ["ok", "ok", "failed"]
    assert "no PSF FWHM in the catalog's column 'psfsize_r'" in table["error"][2]
    fwhm = [read_stamps(r["output"], r["index"]).meta["GALGENPF"] for r in table[:2]]
    np.testing.assert_allclose(fwhm, [0.9, 1.4], rtol=1e-4)
    # a fallback for the row without one; one file per galaxy gives the same
    options = BatchOptions(psf_fwhm=1.1 * u.arcsec, method="bicubic", background=0.0,
                           psf_fwhm_column="psfsize_r")
    items = catalog_items(field / "tractor.fits", [field / "brick.fits"], size=40, fwhm_column="psfsize_r")
    files = run_batch(items, options, field / "files", progress=False)
    assert list(files["status"]) == ["ok", "ok", "ok"]
    fwhm = [read_image(field / "files" / f"{k}.fits").header["GALGENPF"] for k in files["key"]]
    np.testing.assert_allclose(fwhm, [0.9, 1.4, 1.1], rtol=1e-4)
    with pytest.raises(GalgenPSFError, match="psf_fwhm_column="):
        BatchOptions(method="bicubic")


def test_the_command_line_takes_the_column(field, capsys):
    assert main(["batch", str(field / "brick.fits"), "--catalog", str(field / "tractor.fits"), "-o",
                 str(field / "cli"), "--psf-fwhm-column", "psfsize_r", "--psf-fwhm", "1.1", "--method",
                 "bicubic", "--background", "0"]) == 0
    table = Table.read(field / "cli" / "manifest.ecsv")
    fwhm = [read_stamps(r["output"], r["index"]).meta["GALGENPF"] for r in table]
    np.testing.assert_allclose(fwhm, [0.9, 1.4, 1.1], rtol=1e-4)
    assert main(["batch", str(field / "brick.fits"), "-o", str(field / "x"), "--psf-fwhm-column",
                 "psfsize_r"]) == 2
    assert "--psf-fwhm-column reads a column of --catalog" in capsys.readouterr().err
