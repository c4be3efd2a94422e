"""IRAF's physical pixels (``LTV``/``LTM``): a cutout says where it lies on its exposure, a PSF
model of the exposure (PSFEx) is evaluated there, and outputs on a finer grid keep the mapping."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from test_psfex_and_stacks import write_test_psfex  # tests/ is on the path (rootdir conftest)

from galgen import restore
from galgen.errors import GalgenWCSError
from galgen.io import read_image
from galgen.io.fits import write_fits
from galgen.io.wcs import exposure_position, move_physical, physical_position, simple_tan_wcs
from galgen.preprocess import make_cutout

PIX = 0.263  # DES-like


@pytest.mark.parametrize("scale", [1, 2, 4, 0.5])
def test_a_moved_grid_keeps_every_pixel_s_physical_position(scale):
    header = fits.Header({"LTV1": -1000.0, "LTV2": -200.0, "LTM1_1": 0.5, "LTM2_2": 0.5})  # 2x2-binned copy
    moved = move_physical(header.copy(), offset=(7.0, 3.0), scale=scale)
    for x, y in [(1.0, 1.0), (12.5, 30.25), (100.0, 3.0)]:  # 1-based pixels of the new grid
        # the same point on the old grid: 0-based new j -> old (j + 1/2) / scale - 1/2 + offset
        old = ((x - 0.5) / scale + 0.5 + 7.0, (y - 0.5) / scale + 0.5 + 3.0)
        assert physical_position(moved, x, y) == pytest.approx(physical_position(header, *old), abs=1e-9)
    assert physical_position(header, 1.0, 1.0) == pytest.approx((2002.0, 402.0))  # (1 + 1000) / 0.5


def test_headers_without_physical_keywords_are_left_alone_and_bad_ones_named():
    plain = fits.Header({"EXPTIME": 90.0})
    assert physical_position(plain, 5.0, 5.0) is None and physical_position(None, 5.0, 5.0) is None
    assert exposure_position(plain, 4.0, 9.0) == (5.0, 10.0)  # 0-based in, 1-based out
    assert list(move_physical(plain.copy(), (3, 4), 2)) == ["EXPTIME"]
    with pytest.raises(GalgenWCSError, match="cannot place the image"):
        physical_position(fits.Header({"LTV1": -10.0, "LTM1_1": 0.0}), 5.0, 5.0)
    with pytest.raises(GalgenWCSError, match="cannot place the image"):
        physical_position(fits.Header({"LTV1": "left"}), 5.0, 5.0)
    unreadable = move_physical(fits.Header({"LTV1": "left", "LTV2": -3.0}), scale=2)
    assert "LTV1" not in unreadable and "LTV2" not in unreadable  # none rather than wrong ones


def test_cutouts_say_where_they_lie_on_their_exposure(rng):
    from galgen.io.fits import Image

    data = rng.normal(0, 1, (300, 400))
    header = fits.Header({"LTV1": -1000.0, "LTV2": -50.0})  # the image is itself a cutout
    image = Image(data=data, pixel_scale=PIX, wcs=simple_tan_wcs(data.shape, PIX), header=header,
                  mask=np.zeros(data.shape, bool))
    stamp = make_cutout(image, (250.0, 120.0), 41)  # 0-based centre on the image
    assert np.array_equal(stamp.data, data[100:141, 230:271])
    assert physical_position(stamp.header, 21.0, 21.0) == pytest.approx((1251.0, 171.0))  # 1-based
    edge = make_cutout(image, (5.0, 120.0), 41)  # runs over the left edge: padded, still placed
    assert physical_position(edge.header, 16.0, 21.0) == pytest.approx((1001.0, 171.0))  # image x = 1
    first = make_cutout(Image(data=data, pixel_scale=PIX, wcs=None, header=fits.Header(),
                              mask=np.zeros(data.shape, bool)), (250.0, 120.0), 41)
    assert physical_position(first.header, 21.0, 21.0) == pytest.approx((251.0, 121.0))  # on the image


def test_a_cutout_s_psfex_model_is_evaluated_where_the_cutout_lies(tmp_path, rng):
    psf_path = write_test_psfex(tmp_path / "exposure.psf")  # FWHM 3 px at x = 1000, 4 px at x = 2000
    obs = rng.normal(0, 1.0, (48, 48))
    obs[20:28, 20:28] += 25.0
    header = fits.Header({"LTV1": -1975.5, "LTV2": -975.5})  # centre (24.5, 24.5) is (2000, 1000)
    write_fits(tmp_path / "stamp.fits", obs, header=header, wcs=simple_tan_wcs(obs.shape, PIX))
    result = restore(tmp_path / "stamp.fits", psf=psf_path, method="bicubic")
    assert result.meta["GALGENPF"] == pytest.approx(4.0 * PIX, rel=0.02)
    assert "PSFEx at x=2000.0, y=1000.0" in "".join(str(h) for h in result.meta["HISTORY"])  # wrapped
    given = restore(tmp_path / "stamp.fits", psf=psf_path, method="bicubic", psf_position=(1000.0, 1000.0))
    assert given.meta["GALGENPF"] == pytest.approx(3.0 * PIX, rel=0.02)  # a position given wins
    # the x2 output keeps the physical pixels: its centre is still the exposure's (2000, 1000)
    assert physical_position(result.meta, 48.5, 48.5) == pytest.approx((2000.0, 1000.0))
    assert result.meta["LTM1_1"] == 2.0


def test_catalog_runs_on_a_cutout_of_the_exposure_place_each_galaxy_on_it(tmp_path):
    from galgen.batch import BatchOptions, catalog_items, run_batch, run_catalog
    from galgen.io.stamps import read_stamps

    psf_path = write_test_psfex(tmp_path / "exposure.psf")
    rng = np.random.default_rng(1)
    strip = rng.normal(0, 1, (64, 1200)).astype(np.float32)
    wcs = simple_tan_wcs(strip.shape, PIX)
    # the strip starts at exposure pixel x = 951: its 0-based x = 49 and 1049 are exposure x = 1000, 2000
    write_fits(tmp_path / "strip.fits", strip, header=fits.Header({"LTV1": -950.0, "LTV2": 0.0}), wcs=wcs)
    sky = wcs.pixel_to_world([49.0, 1049.0], [32.0, 32.0])
    Table({"id": ["left", "right"], "ra": sky.ra.deg, "dec": sky.dec.deg}).write(tmp_path / "cat.ecsv")
    options = BatchOptions(psf=str(psf_path), method="bicubic", background=0.0)
    items = catalog_items(tmp_path / "cat.ecsv", [tmp_path / "strip.fits"], size=40)
    table = run_batch(items, options, tmp_path / "files", progress=False)  # a file per stamp
    assert list(table["status"]) == ["ok", "ok"]
    left, right = (read_image(tmp_path / "files" / f"cutout_{k}.fits").header for k in ("left", "right"))
    assert left["GALGENPF"] / PIX == pytest.approx(3.0, rel=0.02)
    assert right["GALGENPF"] / PIX == pytest.approx(4.0, rel=0.02)
    # each stamp file keeps its own place on the exposure: its centre is near its galaxy
    assert physical_position(right, 40.5, 40.5)[0] == pytest.approx(2000.0, abs=0.5)
    stacked = run_catalog(tmp_path / "cat.ecsv", [tmp_path / "strip.fits"], options, tmp_path / "stack",
                          size=40, progress=False)
    assert list(stacked["status"]) == ["ok", "ok"]
    fwhm = [read_stamps(row["output"], int(row["index"])).meta["GALGENPF"] / PIX for row in stacked]
    assert fwhm == [pytest.approx(3.0, rel=0.02), pytest.approx(4.0, rel=0.02)]
    with fits.open(stacked["output"][0]) as hdul:  # per-stamp places are the x, y columns, not keywords
        assert "LTV1" not in hdul["RESTORED"].header


def test_restored_and_translated_outputs_carry_the_mapping_on_their_grid(tmp_path, rng):
    from galgen.translate import translate

    obs = rng.normal(0, 1.0, (40, 40))
    obs[16:24, 16:24] += 30.0
    header = fits.Header({"LTV1": -300.0, "LTV2": -100.0, "DATASEC": "[1:40,1:40]", "SATLEVEL": 6e4})
    write_fits(tmp_path / "cut.fits", obs, header=header, wcs=simple_tan_wcs(obs.shape, 0.05))
    restored = restore(tmp_path / "cut.fits", psf_fwhm=0.15, method="bicubic", scale=4)
    assert physical_position(restored.meta, 80.5, 80.5) == pytest.approx((320.5, 120.5))
    for key in ("DATASEC", "SATLEVEL"):  # this file's pixel sections, the input's saturation: history
        assert key not in restored.meta
        assert any(f"input {key}" in str(h) for h in restored.meta["HISTORY"])
    out = translate(tmp_path / "cut.fits", 0.12, to_psf_fwhm=0.4, to_pixel_scale=0.1)
    assert physical_position(out.meta, 10.5, 10.5) == pytest.approx((320.5, 120.5))


def test_psfcheck_evaluates_a_psfex_model_where_the_field_lies(tmp_path, capsys):
    """A field cut from the exposure at x = 1841-2160 (``LTV1 = -1840``): the PSFEx model is checked
    at its centre there (4 px, as the stars), not at the model's centre (3 px: too narrow)."""
    import galsim

    from galgen.cli import main

    psf_path = write_test_psfex(tmp_path / "exposure.psf")
    rng = np.random.default_rng(5)
    img = galsim.ImageD(320, 320, scale=1.0)
    for x, y in [(60, 60), (160, 60), (260, 60), (60, 160), (160, 160), (260, 160), (60, 260), (160, 260)]:
        galsim.Gaussian(fwhm=4.0).withFlux(rng.uniform(3e3, 3e4)).drawImage(
            img, center=galsim.PositionD(x, y), add_to_image=True)
    data = img.array + rng.normal(0, 1, img.array.shape)
    header = fits.Header({"PIXSCALE": PIX, "LTV1": -1840.0, "LTV2": -840.0})
    fits.PrimaryHDU(data, header=header).writeto(tmp_path / "field.fits")
    common = ["psfcheck", str(tmp_path / "field.fits"), "--psf", str(psf_path), "--noise-rms", "1",
              "--background", "0"]
    assert main(common) == 0
    assert main([*common, "--psf-position", "1000,1000"]) == 3  # the model there is 3 px: too narrow
    assert "PSF_TOO_NARROW" in capsys.readouterr().out
