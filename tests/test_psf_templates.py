"""A PSF file per input in batch runs: '{stem}'-style templates and header keywords
('psField-{RUN:06d}-{CAMCOL}-{FIELD:04d}.fit'), '[EXT]' in catalog runs; one missing PSF fails
its own item only."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from galgen.batch import BatchOptions, catalog_items, expand_inputs, run_batch, run_catalog
from galgen.cli import main
from galgen.errors import GalgenPSFError, GalgenValueError
from galgen.io import read_image, read_stamps, simple_tan_wcs, write_fits
from galgen.psf import gaussian_psf, measure_fwhm
from galgen.psf.templates import check_psf_template, own_hdu

SCALE = 0.2


def _psf_file(path, fwhm_pix):
    header = fits.Header({"PIXSCALE": SCALE})
    fits.PrimaryHDU(gaussian_psf(fwhm_pix, shape=(25, 25)), header=header).writeto(path)


def _fwhm(fwhm_pix):
    """What galgen measures on that PSF file, arcsec (the pixel response widens it)."""
    return measure_fwhm(gaussian_psf(fwhm_pix, shape=(25, 25))) * SCALE


def _image(path, header=None, shape=(48, 48), seed=0):
    rng = np.random.default_rng(seed)
    data = rng.normal(0, 1, shape).astype(np.float32)
    data[20:28, 20:28] += 30
    write_fits(path, data, wcs=simple_tan_wcs(shape, SCALE), header=fits.Header(header or {}))


def test_templates_are_filled_from_the_name_and_the_headers(tmp_path):
    _image(tmp_path / "frame-r-003918-3-0213.fits", {"RUN": 3918, "CAMCOL": 3, "FIELD": 213, "FILTER": "r"})
    path = tmp_path / "frame-r-003918-3-0213.fits"
    assert own_hdu("{dir}/{stem}_psf.fits[1]", path) == f"{tmp_path}/frame-r-003918-3-0213_psf.fits[1]"
    assert own_hdu("psfs/{name}", "/data/x.fits.fz") == "psfs/x.fits.fz"
    assert own_hdu("{stem}.psf", "/data/tile.fits.fz") == "tile.psf"
    assert own_hdu("psField-{RUN:06d}-{CAMCOL}-{FIELD:04d}.fit", path) == "psField-003918-3-0213.fit"
    assert own_hdu("psField-{stem[8:]}.fit[{FILTER}]", path) == "psField-003918-3-0213.fit[r]"
    assert own_hdu("{name[:5]}/{stem[-4:]}.psf", path) == "frame/0213.psf"
    check_psf_template("psField-{stem[8:]}.fit")
    assert own_hdu("{FILTER}.psf", path, fits.Header({"FILTER": " i "})) == "i.psf"  # a header given wins
    assert own_hdu("psf.fits", path) == "psf.fits" and own_hdu("[PSF]", path) == f"{path}[PSF]"
    with pytest.raises(GalgenPSFError, match="needs the header keyword TILENAME"):
        own_hdu("{TILENAME}.psf", path)
    with pytest.raises(GalgenPSFError, match="does not fit its values"):
        own_hdu("{FILTER:04d}.psf", path)
    for bad in ("{stem.psf", "{}.psf", "{0}.psf", "{stem.upper}.psf", "{RUN[0]}.psf", "{dir[1:]}.psf"):
        with pytest.raises(GalgenValueError, match="--psf"):
            check_psf_template(bad)
    with pytest.raises(GalgenValueError, match="--psf"):
        BatchOptions(psf="{stem", method="bicubic")


def test_a_batch_restores_each_file_with_its_own_psf_and_one_missing_psf_fails_alone(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "psfs").mkdir()
    for name, fwhm in (("a/g1", 3.0), ("a/g2", 4.0), ("b/g3", 5.0)):
        _image(tmp_path / f"{name}.fits", seed=int(fwhm))
        _psf_file(tmp_path / "psfs" / f"{name.split('/')[1]}_psf.fits", fwhm)
    _image(tmp_path / "b" / "g4.fits")  # no PSF file
    items = expand_inputs([str(tmp_path / "a"), str(tmp_path / "b")])
    table = run_batch(items, BatchOptions(psf=str(tmp_path / "psfs" / "{stem}_psf.fits"), method="bicubic",
                                          background=0.0), tmp_path / "out", progress=False)
    status = dict(zip(table["key"], table["status"], strict=True))
    assert status == {"a/g1": "ok", "a/g2": "ok", "b/g3": "ok", "b/g4": "failed"}
    error = table["error"][list(table["key"]).index("b/g4")]
    assert "g4_psf.fits: no such PSF file" in error
    for key, fwhm in (("a/g1", 3.0), ("a/g2", 4.0), ("b/g3", 5.0)):
        header = read_image(tmp_path / "out" / f"{key}.fits").header
        assert header["GALGENPF"] == pytest.approx(_fwhm(fwhm), rel=1e-3), key
    # the command line, with the PSF beside each image ({dir}) and named by a header keyword
    (tmp_path / "c").mkdir()
    _image(tmp_path / "c" / "img.fits", {"SEEINGID": "s35"})
    _psf_file(tmp_path / "c" / "psf_s35.fits.psf", 3.5)  # not *.fits*: a directory input leaves it out
    assert main(["batch", str(tmp_path / "c" / "img.fits"), "-o", str(tmp_path / "out_c"), "--psf",
                 "{dir}/psf_{SEEINGID}.fits.psf", "--method", "bicubic", "--background", "0"]) == 0
    header = read_image(tmp_path / "out_c" / "img.fits").header
    assert header["GALGENPF"] == pytest.approx(_fwhm(3.5), rel=1e-3)


def test_catalog_runs_take_each_image_s_own_psf_hdu_or_template(tmp_path):
    """'[PSF]' and templates in a catalog run are filled per image (before, '[PSF]' was looked
    for as a file of that name and every stamp failed)."""
    cats = []
    for k, fwhm in enumerate((3.0, 4.5)):
        wcs = simple_tan_wcs((120, 120), SCALE, ra=150.0 + k, dec=2.0)
        data = np.random.default_rng(k).normal(0, 1, (120, 120)).astype(np.float32)
        hdus = fits.HDUList([fits.PrimaryHDU(data, header=wcs.to_header()),
                             fits.ImageHDU(gaussian_psf(fwhm, shape=(25, 25)), name="PSF")])
        hdus[0].header["PSFNAME"] = f"p{k}"
        hdus.writeto(tmp_path / f"mosaic{k}.fits")
        _psf_file(tmp_path / f"p{k}.fits", fwhm)
        sky = wcs.pixel_to_world(60.0, 60.0)
        cats.append((f"g{k}", sky.ra.deg, sky.dec.deg))
    Table(rows=cats, names=("id", "ra", "dec")).write(tmp_path / "cat.ecsv")
    images = [tmp_path / "mosaic0.fits", tmp_path / "mosaic1.fits"]
    for n, psf in enumerate(("[PSF]", str(tmp_path / "{PSFNAME}.fits"))):
        options = BatchOptions(psf=psf, method="bicubic", background=0.0, check_psf=False)
        table = run_catalog(tmp_path / "cat.ecsv", images, options, tmp_path / f"out{n}", size=40,
                            progress=False)
        assert list(table["status"]) == ["ok", "ok"], (psf, list(table["error"]))
        fwhm = [read_stamps(r["output"], r["index"]).meta["GALGENPF"] for r in table]
        np.testing.assert_allclose(fwhm, [_fwhm(3.0), _fwhm(4.5)], rtol=1e-3)
    items = catalog_items(tmp_path / "cat.ecsv", images, size=40)
    table = run_batch(items, BatchOptions(psf="[PSF]", method="bicubic", background=0.0, check_psf=False),
                      tmp_path / "out_files", progress=False)
    assert list(table["status"]) == ["ok", "ok"]
