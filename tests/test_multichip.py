"""Files with several chips (HST flt/flc: SCI, ERR, DQ for EXTVER 1 and 2): each chip is read with
its own mask and uncertainty, chosen as 'SCI,2'; the first chip is said to have company."""

from __future__ import annotations

import logging

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits

from galgen.batch import open_mosaic
from galgen.errors import GalgenValueError
from galgen.io import read_image, simple_tan_wcs


@pytest.fixture
def flt(tmp_path):
    """Two chips: chip v has a bad DQ row at 10 v and an ERR of v."""
    wcs = simple_tan_wcs((64, 64), 0.05)
    rng = np.random.default_rng(0)
    hdus = [fits.PrimaryHDU()]
    for ver in (1, 2):
        header = wcs.to_header()
        header["EXTVER"] = ver
        hdus.append(fits.ImageHDU(rng.normal(0, ver, (64, 64)).astype(np.float32), header=header, name="SCI"))
        err = fits.ImageHDU(np.full((64, 64), float(ver), np.float32), name="ERR")
        dq = np.zeros((64, 64), np.int16)
        dq[10 * ver] = 4
        hdus += [err, fits.ImageHDU(dq, name="DQ")]
        for h in hdus[-2:]:
            h.header["EXTVER"] = ver
    path = tmp_path / "j8xi01abq_flt.fits"
    fits.HDUList(hdus).writeto(path)
    return path


def test_each_chip_gets_its_own_mask_and_uncertainty(flt, caplog):
    for hdu, ver in ((4, 2), ("SCI,2", 2), ("sci , 2", 2), (1, 1), ("SCI,1", 1)):
        image = read_image(flt, hdu=hdu)
        assert np.flatnonzero(image.mask.any(axis=1)).tolist() == [10 * ver], hdu
        assert float(np.median(image.uncertainty)) == ver, hdu
    with caplog.at_level(logging.WARNING, logger="galgen.io.fits"):
        read_image(flt)
    said = "2 image HDUs are named SCI (EXTVER 1, 2); reading SCI,1. Pick another as hdu='SCI,2'"
    assert said in caplog.text
    with pytest.raises(GalgenValueError, match="no HDU 'SCI,3'"):
        read_image(flt, hdu="SCI,3")


def test_a_catalog_mosaic_of_chip_2_reads_chip_2_s_planes(flt):
    mosaic = open_mosaic(flt, "SCI,2")
    try:
        bad = np.flatnonzero((np.asarray(mosaic.mask) != 0).any(axis=1)).tolist()
        assert bad == [20]
        assert float(np.median(mosaic.uncertainty)) == 2.0
    finally:
        mosaic.close()


def _two_chip_exposure(path, rng):
    """A DECam-like exposure: two CCDs side by side on the sky (EXTNAME S1, S2; CCDNUM 1, 2) with
    their own WCS and a weight plane each, and a galaxy near the middle of each."""
    yy, xx = np.indices((100, 100))
    hdus = [fits.PrimaryHDU(header=fits.Header({"EXPNUM": 123456}))]
    sky = []
    for ccd in (1, 2):
        wcs = simple_tan_wcs((100, 100), 0.263, ra=150.0 + 0.01 * ccd, dec=2.0)
        data = rng.normal(0, 1.0, (100, 100)).astype(np.float32)
        data += 20 * np.exp(-((xx - 50) ** 2 + (yy - 50) ** 2) / (2 * 3.0**2))
        header = wcs.to_header()
        header.update({"CCDNUM": ccd})
        hdus.append(fits.ImageHDU(data, header=header, name=f"S{ccd}"))
        hdus.append(fits.ImageHDU(np.ones((100, 100), np.float32), name="WGT"))
        sky.append(wcs.pixel_to_world(50.0, 50.0))
    fits.HDUList(hdus).writeto(path)
    return sky


def test_a_catalog_over_a_multichip_exposure_cuts_each_galaxy_from_its_chip(tmp_path):
    """Before, only the first chip was read and the galaxy on the second 'lay on none of the
    images'. Each chip's PSF comes from a template with its CCDNUM."""
    from astropy.table import Table

    from galgen.batch import BatchOptions, catalog_items, run_batch, run_catalog
    from galgen.psf import gaussian_psf, measure_fwhm

    rng = np.random.default_rng(1)
    sky = _two_chip_exposure(tmp_path / "c4d_ooi.fits", rng)
    for ccd, fwhm in ((1, 3.2), (2, 4.2)):
        header = fits.Header({"PIXSCALE": 0.263})
        fits.PrimaryHDU(gaussian_psf(fwhm, shape=(25, 25)), header=header).writeto(
            tmp_path / f"psf_123456_{ccd:02d}.fits")
    Table({"id": ["a", "b"], "ra": [s.ra.deg for s in sky], "dec": [s.dec.deg for s in sky]}).write(
        tmp_path / "cat.ecsv")
    options = BatchOptions(psf=str(tmp_path / "psf_{EXPNUM}_{CCDNUM:02d}.fits"), method="bicubic",
                           background=0.0, check_psf=False)
    table = run_catalog(tmp_path / "cat.ecsv", [tmp_path / "c4d_ooi.fits"], options, tmp_path / "out",
                        size=48, progress=False)
    assert list(table["status"]) == ["ok", "ok"], list(table["error"])
    assert [str(i).rsplit("[", 1)[1] for i in table["input"]] == ["1]", "3]"]
    from galgen.io import read_stamps

    fwhm = [read_stamps(r["output"], r["index"]).meta["GALGENPF"] / 0.263 for r in table]
    expected = [measure_fwhm(gaussian_psf(f, shape=(25, 25))) for f in (3.2, 4.2)]
    np.testing.assert_allclose(fwhm, expected, rtol=1e-3)
    items = catalog_items(tmp_path / "cat.ecsv", [tmp_path / "c4d_ooi.fits"], size=48)
    assert [(i.key, i.hdu) for i in items] == [("cutout_a", 1), ("cutout_b", 3)]
    files = run_batch(items, options, tmp_path / "out_files", progress=False)
    assert list(files["status"]) == ["ok", "ok"], list(files["error"])


def test_a_batch_restores_each_chip_named_as_file_ext(flt, tmp_path):
    """'flt.fits[SCI,1]' and '[SCI,2]' (on the command line or in an @list) are two items with
    their own planes and keys; before, the brackets were read as a glob and found nothing."""
    from galgen.batch import BatchOptions, expand_inputs, run_batch
    from galgen.cli import main

    items = expand_inputs([f"{flt}[SCI,1]", f"{flt}[SCI,2]"])
    assert [(i.key, i.hdu) for i in items] == [("j8xi01abq_flt_SCI_1", "SCI,1"),
                                               ("j8xi01abq_flt_SCI_2", "SCI,2")]
    table = run_batch(items, BatchOptions(psf_fwhm=0.1 * u.arcsec, method="bicubic", background=0.0),
                      tmp_path / "out", progress=False)
    assert list(table["status"]) == ["ok", "ok"]
    assert [str(i).rsplit("/", 1)[1] for i in table["input"]] == ["j8xi01abq_flt.fits[SCI,1]",
                                                                  "j8xi01abq_flt.fits[SCI,2]"]
    noise = [read_image(tmp_path / "out" / f"{k}.fits").header["GALGENNV"] for k in table["key"]]
    assert noise[1] == pytest.approx(2 * noise[0], rel=1e-6)  # each chip's own ERR plane
    (tmp_path / "list.txt").write_text(f"{flt}[SCI,2]\n{flt}[4]\n")
    listed = expand_inputs([f"@{tmp_path / 'list.txt'}"])
    assert [(i.key, i.hdu) for i in listed] == [("j8xi01abq_flt_SCI_2", "SCI,2"), ("j8xi01abq_flt_4", 4)]
    globbed = expand_inputs([f"{flt.parent}/*_flt.fits[SCI,2]"])  # a glob, each file's chip 2
    assert [(i.key, i.hdu) for i in globbed] == [("j8xi01abq_flt_SCI_2", "SCI,2")]
    assert main(["batch", f"{flt}[SCI,2]", "-o", str(tmp_path / "cli"), "--psf-fwhm", "0.1",
                 "--method", "bicubic", "--background", "0"]) == 0
    assert (tmp_path / "cli" / "j8xi01abq_flt_SCI_2.fits").is_file()
